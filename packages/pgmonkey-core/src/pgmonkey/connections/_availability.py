"""A pool's connection attempt that failed because no suitable server is up yet: try again soon.

psycopg_pool waits 1, 2, 4 s (+/- 10 %) between the attempts to replace a lost connection, so
after a failover a pool may stay empty for seconds after the new leader accepts writes. The
connection classes of pgmonkey's pools (:mod:`pgmonkey.connections._pooled`) therefore retry
a failed attempt themselves, every :data:`FIRST_DELAY` doubling up to :data:`MAX_DELAY`
seconds (+/- :data:`JITTER`), for at most :data:`RETRY_WINDOW` seconds, and only when every
server tried failed for a reason that is about availability (:func:`unavailable`):

* nothing listens or the connection was cut (a stopped or restarting server, a proxy with no
  server behind it): ``Connection refused``, a missing unix socket, ``server closed the
  connection unexpectedly``, a connect timeout;
* the server is up but no host satisfies ``target_session_attrs`` (no leader yet);
* the server refuses logins while it starts, recovers or shuts down (SQLSTATE 57P03, and 57P01
  for a login cut by a shutdown).

Everything else (a wrong password, a missing database or role, a refused setting, a bad
parameter, too many connections) is raised at once, exactly as before; psycopg_pool's own
backoff then applies. psycopg reports no SQLSTATE for a failed connection, so the reasons are
recognised in libpq's and the server's messages (English; translated messages are not
recognised, and psycopg_pool's backoff alone applies).
"""

from __future__ import annotations

import random
import re
import time

import psycopg

__all__ = ["FIRST_DELAY", "JITTER", "MAX_DELAY", "RETRY_WINDOW", "RetryWindow", "unavailable"]

RETRY_WINDOW = 10.0
"""Seconds after an attempt's first availability failure during which it is retried.

Long enough for a failover with tuned timings (Patroni ``ttl`` 3 s: 2-4 s) to end inside the
first window, and for one with Patroni's defaults (``ttl`` 30 s: about 30 s) to end inside
the third (psycopg_pool pauses 1 s, then 2 s between them); short enough that psycopg_pool
stays in charge of long outages (its growing pauses, ``reconnect_timeout``, its warnings)."""
FIRST_DELAY = 0.1
"""Seconds before the first retry; doubled after each one, up to :data:`MAX_DELAY`."""
MAX_DELAY = 0.5
"""The longest pause between two retries."""
JITTER = 0.1
"""Each pause is randomised by +/- this fraction, so that pools do not retry in step."""

_AVAILABILITY = (
    # Nothing answers, or the connection was cut before the login completed.
    "connection refused",
    "no such file or directory",  # the unix socket of a stopped server
    "server closed the connection unexpectedly",
    "could not receive data from server",
    "could not send data to server",
    "could not send startup packet",
    "ssl syscall error: eof detected",
    "ssl connection has been closed unexpectedly",
    "timeout expired",
    "connection timeout expired",
    # Up, but not what target_session_attrs asks for (no leader, or no standby, yet).
    "server is in hot standby mode",
    "server is not in hot standby mode",
    "session is read-only",
    "session is not read-only",
    # SQLSTATE 57P03 (cannot connect now) and 57P01 (a shutdown cut the login).
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "the database system is not accepting connections",
    "terminating connection due to administrator command",
)
# What follows "... failed: " in libpq's per-host lines (older libpq: "could not connect to
# server: "), and the "connection failed: " / "connection is bad: " psycopg puts first.
_PREFIX = re.compile(
    r"^.*?(?:\bfailed: |could not connect to server: |connection is bad: )(?!.*\bfailed: )"
)
_SEVERITY = re.compile(r"^(?:FATAL|ERROR|PANIC):\s+")
_STRUCTURE = ("Multiple connection attempts failed",)


def _reasons(message: str) -> list[str]:
    """The failure reason of each server tried, from a psycopg connection error's message."""
    reasons = []
    for line in message.splitlines():
        # Hints ("\tIs the server running..."), DETAIL/HINT lines and psycopg's summary
        # header belong to the reason above them.
        if not line.strip() or line[0].isspace() or line.startswith(("DETAIL:", "HINT:")):
            continue
        if line.startswith(_STRUCTURE):
            continue
        reason = _SEVERITY.sub("", _PREFIX.sub("", line, count=1)).lower()
        reasons.append(reason)
    return reasons


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc``, from a connection attempt, only says that no suitable server is up.

    True when it is a ``psycopg.OperationalError`` and every server tried failed for a reason
    listed in the module docstring; false for anything else (an authentication or
    authorisation failure, a configuration error, an unknown message).
    """
    if not isinstance(exc, psycopg.OperationalError):
        return False
    reasons = _reasons(str(exc))
    return bool(reasons) and all(r.startswith(_AVAILABILITY) for r in reasons)


class RetryWindow:
    """The retries of one connection attempt (no I/O: the caller connects and sleeps)."""

    def __init__(self) -> None:
        self._deadline: float | None = None
        self._delay = FIRST_DELAY

    def pause(self, exc: BaseException) -> float | None:
        """Seconds to wait before trying again after ``exc``, or ``None``: raise it.

        ``None`` when ``exc`` is not about availability, or the window is over.
        """
        if not unavailable(exc):
            return None
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + RETRY_WINDOW
        left = self._deadline - now
        if left <= 0:
            return None
        jittered = self._delay * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311
        self._delay = min(self._delay * 2, MAX_DELAY)
        return min(jittered, MAX_DELAY, left)
