"""Small helpers every benchmark prints with its figures."""
from __future__ import annotations

import os
import resource


def cores() -> str:
    """The machine's cores and how many this process may use, e.g. "2 usable of 2"."""
    online = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        usable = online
    return f"{usable} usable of {online}"


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux: KiB
