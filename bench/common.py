"""Small helpers every benchmark prints with its figures, and the store copy they measure."""
from __future__ import annotations

import os
import resource
from pathlib import Path


def cores() -> str:
    """The machine's cores and how many this process may use, e.g. "2 usable of 2"."""
    online = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        usable = online
    return f"{usable} usable of {online}"


def load() -> str:
    """The load averages (1, 5, 15 minutes), as ``uptime`` prints them."""
    try:
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux: KiB


def vm_hwm_mb() -> float:
    """This process's resident memory high-water mark (VmHWM of /proc/self/status), in MiB;
    ``peak_rss_mb`` where there is no /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024        # kB
    except OSError:
        pass
    return peak_rss_mb()


def copy_store(source: Path, target: Path) -> Path:
    """Copy the store ``source`` to ``target`` with the files that go with it (its WAL, audit
    key and chain head: ``dashboard.audit.copy_store``), first removing an earlier copy's
    sidecars there; the given store is only read. Returns ``target``."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from dashboard import audit

    source, target = Path(source), Path(target)
    if source.resolve() == target.resolve():
        raise ValueError(f"copy_store: {source} onto itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    for side in (".wal", ".audit-key", ".audit-head", ".secret"):
        target.with_name(target.name + side).unlink(missing_ok=True)
    audit.copy_store(source, target)
    migrate_if_behind(target)
    return target


def migrate_if_behind(path: Path) -> None:
    """Bring a store (a benchmark's copy) to the current schema with ``python -m dashboard
    --db PATH init``, as its user would, if migrations are pending (a store made by an
    earlier version: the app and ``check`` refuse a store behind)."""
    import subprocess
    import sys

    import duckdb
    from dashboard.store import migrations

    con = duckdb.connect(str(path), read_only=True)
    try:
        have = con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0]
    finally:
        con.close()
    if have is not None and have < migrations()[-1].version:
        print(f"migrating {path}: python -m dashboard --db {path} init", flush=True)
        subprocess.run([sys.executable, "-m", "dashboard", "--db", str(path), "init"],
                       cwd=Path(__file__).resolve().parent.parent, check=True,
                       stdout=subprocess.DEVNULL)


def one_row_write(store) -> str:
    """One audited one-row write, as an edit of the Processors register makes it: the first
    processor's ``last_assessed_on`` moved a day earlier (a real change every time it is
    called), through ``store.write`` (role check, one transaction, the tables' versions
    bumped, one signed audit entry). The app has no processor edit service yet
    (``register.edit`` is in the role matrix): this is the write it would make. Returns
    the processor's id."""
    import datetime as dt

    from dashboard.access import cli_actor
    with store.write(cli_actor(), "register.edit") as w:
        pid, before = w.execute("SELECT processor_id, last_assessed_on FROM processors "
                                "ORDER BY processor_id LIMIT 1").fetchone()
        after = (before or dt.date(2026, 1, 1)) - dt.timedelta(days=1)
        w.execute("UPDATE processors SET last_assessed_on = ? WHERE processor_id = ?",
                  [after, pid])
        w.audit("register.edit", "processors", pid,
                before={"last_assessed_on": None if before is None else before.isoformat()},
                after={"last_assessed_on": after.isoformat()})
    return pid
