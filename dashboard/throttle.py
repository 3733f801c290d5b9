"""Sign-in throttling without denial of service, and failed sign-ins aggregated in the audit
log (issues 11 and 12). ``accounts.authenticate`` is the only caller; docs/ACCESS.md has
the design for an operator.

**Throttle.** Three counters of failed sign-ins, each with its own allowance:

- one account from one client address (``login_max_failures``, default 5);
- one client address, whatever the usernames (``login_address_max_failures``, 20): a client
  spraying one password over many accounts;
- one account from every address (``login_account_max_failures``, 10): guessing spread
  over many addresses.

When a counter reaches its allowance, sign-in through it *pauses*: the first pause is
``login_first_pause_seconds`` (30 s) and each further failure doubles it, up to
``login_lockout_minutes`` (15). While paused, an attempt is refused without checking the
password (it costs the server no hashing). The account counter pauses the account only
for addresses it has never signed in from, so failures from elsewhere do not lock its
owner out (the denial of service of a plain per-account lock); an administrator lifts a
pause (``accounts.unlock_user``: the Users page, ``user unlock NAME``). A counter with no
failure for ``login_window_minutes`` (60) starts afresh; a success clears the counter of
that account and address. An unknown username is throttled exactly like an existing one,
and every failure gets the same message, so neither the message nor the throttle tells
whether an account exists. Usernames are kept only as an HMAC (``account_key``) under
the store's secret: an unknown one is never stored in clear.

**Audit log.** Per account (an unknown username counts as "unknown") and client address,
failures are aggregated in windows of ``login_window_minutes`` that start at a window's
first failure. Written, each through ``store.write`` with exactly one entry:

- ``auth.sign_in_failed``: the first failure of a window;
- ``auth.lockout``: every pause that starts (with the failures not yet reported);
- ``auth.sign_in``: every success (with the failures of the window not yet reported, which
  closes the window);
- ``auth.sign_in_failures``: at the end of a window that has failures not yet reported,
  their count by reason (written at the next sign-in attempt after the window's end).

Other failures are only counted, in this process. So N failures of one account from one
address write at most 1 + (pauses started) + 1 entries per window, and a client spraying
from one address is refused unchecked after ``login_address_max_failures``, whatever N is.
Counters are written to ``sign_in_throttle`` with each entry, and read back when the app
starts; counts not yet reported when the app stops are lost (the pauses are kept).
"""
from __future__ import annotations

import collections
import datetime as dt
import sys
import threading
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .access import AUTH_ROLE, Actor

SIGN_IN_SERVICE = Actor("sign-in", AUTH_ROLE)
PAIR, ACCOUNT, ADDRESS = "account and address", "account", "address"
LOCAL = "local"          # the client address of a browser on the server's own machine


def normalize_address(address: Any) -> str:
    text = str(address or "").strip()
    return text[:64] if text else LOCAL


def account_key(store, username: str) -> str:
    """The username as stored by the throttle: an HMAC under the store's secret."""
    from .sessions import keyed_digest
    return keyed_digest(store, "sign-in-account", str(username or "").strip().lower())


@dataclass
class Counter:
    failures: int
    window_start: dt.datetime
    last_failure: dt.datetime
    blocked_until: dt.datetime | None = None


@dataclass
class Tally:
    """Failures of one account (``entity``; None: unknown usernames) from one address in
    the current window, and how many of them are in no audit entry yet."""
    entity: str | None
    address: str
    window_start: dt.datetime
    failures: int = 0
    unreported: int = 0
    reasons: collections.Counter = field(default_factory=collections.Counter)


_STATE_NAME = "_compliance_sign_in_throttle_state"


def _all_states() -> dict:
    state = sys.modules.get(_STATE_NAME)
    if state is None:
        fresh = types.ModuleType(_STATE_NAME, "dashboard.throttle's process-wide state")
        fresh.guard = threading.Lock()
        fresh.stores = {}
        state = sys.modules.setdefault(_STATE_NAME, fresh)
    return state


class _State:
    def __init__(self):
        self.lock = threading.RLock()
        self.loaded = False
        self.counters: dict[tuple[str, str], Counter] = {}
        self.known: dict[str, set[str]] = {}
        self.tallies: dict[tuple[str | None, str], Tally] = {}


def _state(store) -> _State:
    states = _all_states()
    key = str(Path(store.path).resolve())
    with states.guard:
        state = states.stores.get(key)
        if state is None:
            state = states.stores[key] = _State()
    with state.lock:
        if not state.loaded:
            for akey, address, failures, start, last, until in store.rows(
                    "SELECT account_key, address, failures, window_start, last_failure_at, "
                    "blocked_until FROM sign_in_throttle"):
                state.counters[(akey, address)] = Counter(failures, start, last, until)
            for akey, address in store.rows(
                    "SELECT account_key, address FROM sign_in_known_addresses"):
                state.known.setdefault(akey, set()).add(address)
            state.loaded = True
    return state


def forget(store) -> None:
    """Drop this process's copy of the store's counters (read again on next use)."""
    states = _all_states()
    with states.guard:
        states.stores.pop(str(Path(store.path).resolve()), None)


def _window(store) -> dt.timedelta:
    return dt.timedelta(minutes=max(1, int(store.settings.login_window_minutes)))


def _live(counter: Counter | None, now: dt.datetime, window: dt.timedelta) -> Counter | None:
    """The counter if it still counts (a failure within the window, or a pause running)."""
    if counter is None:
        return None
    if counter.blocked_until is not None and counter.blocked_until > now:
        return counter
    if now - counter.last_failure >= window:
        return None
    return counter


def blocked(store, akey: str, address: str) -> list[tuple[str, dt.datetime]]:
    """The pauses that refuse this attempt now: (scope, until)."""
    state = _state(store)
    now = store.now()
    found = []
    with state.lock:
        for scope, key in ((PAIR, (akey, address)), (ADDRESS, ("", address)),
                           (ACCOUNT, (akey, ""))):
            counter = state.counters.get(key)
            if counter is None or counter.blocked_until is None or counter.blocked_until <= now:
                continue
            if scope == ACCOUNT and address in state.known.get(akey, ()):
                continue            # the owner's own addresses keep working
            found.append((scope, counter.blocked_until))
    return found


def _persist(w, state: _State, keys, now: dt.datetime, window: dt.timedelta) -> None:
    for key in keys:
        counter = state.counters.get(key)
        if counter is None:
            w.execute("DELETE FROM sign_in_throttle WHERE account_key = ? AND address = ?",
                      list(key))
        else:
            w.execute("INSERT OR REPLACE INTO sign_in_throttle VALUES (?, ?, ?, ?, ?, ?)",
                      [key[0], key[1], counter.failures, counter.window_start,
                       counter.last_failure, counter.blocked_until])
    # Housekeeping: counters that count no more.
    w.execute("DELETE FROM sign_in_throttle WHERE last_failure_at <= ? "
              "AND (blocked_until IS NULL OR blocked_until <= ?)", [now - window, now])


def _pause(store, failures: int, allowance: int) -> dt.timedelta:
    first = max(1, int(store.settings.login_first_pause_seconds))
    cap = max(first, int(store.settings.login_lockout_minutes) * 60)
    steps = max(0, failures - allowance)
    return dt.timedelta(seconds=cap if steps >= 32 else min(cap, first * 2 ** steps))


def _summary(tally: Tally, window: dt.timedelta) -> dict[str, Any]:
    return {"address": tally.address, "window_start": tally.window_start,
            "window_end": tally.window_start + window, "failures": tally.failures,
            "unreported": tally.unreported, "by_reason": dict(sorted(tally.reasons.items()))}


def flush_due(store) -> int:
    """Write the summary of every window that has ended with failures not yet reported
    (one entry each); returns how many were written."""
    state = _state(store)
    window = _window(store)
    written = 0
    with state.lock:
        now = store.now()
        for key, tally in list(state.tallies.items()):
            if now < tally.window_start + window:
                continue
            if tally.unreported:
                with store.write(SIGN_IN_SERVICE, "account.sign_in") as w:
                    w.audit("auth.sign_in_failures", "user", tally.entity,
                            after=_summary(tally, window))
                written += 1
            del state.tallies[key]
    return written


def failed(store, *, akey: str, entity: str | None, address: str, reason: str,
           checked: bool) -> list[tuple[str, dt.datetime]]:
    """Count a failed attempt and write its audit entry if it is the window's first or
    starts a pause. ``checked``: the password was checked (False: refused while paused,
    which counts towards the report but not towards the pauses). Returns the pauses it
    started."""
    state = _state(store)
    window = _window(store)
    settings = store.settings
    with state.lock:
        now = store.now()
        tkey = (entity, address)
        tally = state.tallies.get(tkey)
        if tally is not None and now >= tally.window_start + window:
            flush_due(store)
            tally = None
        if tally is None:
            tally = state.tallies[tkey] = Tally(entity, address, now)
        tally.failures += 1
        started: list[tuple[str, dt.datetime]] = []
        keys = []
        if checked:
            for scope, key, allowance in (
                    (PAIR, (akey, address), settings.login_max_failures),
                    (ADDRESS, ("", address), settings.login_address_max_failures),
                    (ACCOUNT, (akey, ""), settings.login_account_max_failures)):
                counter = _live(state.counters.get(key), now, window)
                if counter is None:
                    counter = state.counters[key] = Counter(0, now, now)
                counter.failures += 1
                counter.last_failure = now
                keys.append(key)
                if counter.failures >= max(1, int(allowance)):
                    counter.blocked_until = now + _pause(store, counter.failures,
                                                         max(1, int(allowance)))
                    started.append((scope, counter.blocked_until))
        if started:
            until = max(u for _, u in started)
            with store.write(SIGN_IN_SERVICE, "account.sign_in") as w:
                _persist(w, state, keys, now, window)
                w.audit("auth.lockout", "user", entity, after={
                    "reason": reason, "address": address,
                    "paused": [scope for scope, _ in started], "until": until,
                    "pause_seconds": int((until - now).total_seconds()),
                    "failures_in_window": tally.failures,
                    "unreported_before": dict(sorted(tally.reasons.items()))})
            tally.unreported = 0
            tally.reasons.clear()
        elif tally.failures == 1:
            with store.write(SIGN_IN_SERVICE, "account.sign_in") as w:
                _persist(w, state, keys, now, window)
                w.audit("auth.sign_in_failed", "user", entity, after={
                    "reason": reason, "address": address, "window_start": tally.window_start,
                    "window_minutes": int(window.total_seconds() // 60)})
        else:
            tally.unreported += 1
            tally.reasons[reason] += 1
        return started


def succeeded(store, *, akey: str, entity: str, address: str) -> dict[str, Any] | None:
    """A success (before its write, which calls ``record_success``): clear the account-
    and-address counter, remember the address as the account's, and close the window.
    Returns what the success entry says of the failures before it (None: there were none).

    Lock order: this module's lock is never taken inside a store write (``failed`` takes it,
    then writes), so the functions called inside a write touch only the database.
    """
    state = _state(store)
    window = _window(store)
    with state.lock:
        state.counters.pop((akey, address), None)
        state.known.setdefault(akey, set()).add(address)
        tally = state.tallies.pop((entity, address), None)
    if tally is None:
        return None
    return {"window_start": tally.window_start, "failures": tally.failures,
            "unreported": dict(sorted(tally.reasons.items())),
            "window_minutes": int(window.total_seconds() // 60)}


def record_success(w, *, akey: str, address: str) -> None:
    """Inside the success's write: the database side of ``succeeded``."""
    w.execute("DELETE FROM sign_in_throttle WHERE account_key = ? AND address = ?",
              [akey, address])
    w.execute("INSERT OR REPLACE INTO sign_in_known_addresses VALUES (?, ?, ?)",
              [akey, address, w.at])


def status(store, akey: str) -> tuple[int, dt.datetime | None]:
    """An account's failures in the current window (all addresses) and the end of the
    longest pause that concerns it (None when none runs)."""
    state = _state(store)
    now = store.now()
    window = _window(store)
    with state.lock:
        account = _live(state.counters.get((akey, "")), now, window)
        until = [c.blocked_until for (k, a), c in state.counters.items()
                 if k == akey and c.blocked_until is not None and c.blocked_until > now]
    return (account.failures if account else 0), (max(until) if until else None)


def addresses_of(store, akey: str) -> list[str]:
    """The addresses an account has failed from (its live account-and-address counters)."""
    state = _state(store)
    with state.lock:
        return sorted(a for (k, a) in state.counters if k == akey and a)


def clear_account(w, akey: str, addresses: list[str]) -> None:
    """Inside an administrator's write: lift every pause and counter of one account, and
    those of the ``addresses`` it failed from (``addresses_of``), so that its owner can sign
    in from there at once; then, once committed, ``forget_account``."""
    w.execute("DELETE FROM sign_in_throttle WHERE account_key = ?", [akey])
    for address in addresses:
        w.execute("DELETE FROM sign_in_throttle WHERE account_key = '' AND address = ?",
                  [address])


def forget_account(store, akey: str, addresses: list[str]) -> None:
    """After ``clear_account`` has committed: drop the same live counters."""
    state = _state(store)
    with state.lock:
        for key in [k for k in state.counters if k[0] == akey or (k[0] == "" and k[1] in
                                                                  addresses)]:
            del state.counters[key]
