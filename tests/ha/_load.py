"""Load during a fault: writer and reader threads that record every operation's outcome.

Each operation records when it started, when it ended, which server answered (its port), and
for writes the id it inserted once the COMMIT was acknowledged. :class:`Report` turns the
records into the figures the HA tests assert on and print.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from pgmonkey.testing import PatroniCluster, PatroniNode

TABLE = "ha_log"


@dataclass(frozen=True)
class Op:
    """One operation: ``kind`` is ``write`` or ``read``; ``port`` is ``None`` on error."""

    kind: str
    started: float
    ended: float
    port: int | None
    ident: int | None = None
    error: str | None = None


@dataclass
class Recorder:
    """Thread-safe list of operations."""

    ops: list[Op] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, op: Op) -> None:
        with self.lock:
            self.ops.append(op)

    def snapshot(self) -> list[Op]:
        with self.lock:
            return list(self.ops)


Write = Callable[[int], int]
"""Insert the id and commit; return the port of the server that acknowledged it."""
Read = Callable[[], int]
"""Read something; return the port of the server that answered."""

_IDS = count(1)


def _loop(kind: str, op: Callable[[], tuple[int, int | None]], rec: Recorder, stop: Any) -> None:
    while not stop.is_set():
        started = time.monotonic()
        try:
            port, ident = op()
        except Exception as exc:
            rec.add(
                Op(kind, started, time.monotonic(), None, error=f"{type(exc).__name__}: {exc}")
            )
            time.sleep(0.02)
            continue
        rec.add(Op(kind, started, time.monotonic(), port, ident))
        time.sleep(0.005)


def _writer(write: Write) -> Callable[[], tuple[int, int | None]]:
    def op() -> tuple[int, int | None]:
        ident = next(_IDS)
        return write(ident), ident

    return op


def _reader(read: Read) -> Callable[[], tuple[int, int | None]]:
    def op() -> tuple[int, int | None]:
        return read(), None

    return op


@contextmanager
def load(
    write: Write | None, read: Read | None = None, *, writers: int = 4, readers: int = 0
) -> Iterator[Recorder]:
    """Run writer and reader threads for the duration of the block."""
    rec = Recorder()
    stop = threading.Event()
    threads = []
    if write is not None:
        threads += [
            threading.Thread(target=_loop, args=("write", _writer(write), rec, stop), daemon=True)
            for _ in range(writers)
        ]
    if read is not None:
        threads += [
            threading.Thread(target=_loop, args=("read", _reader(read), rec, stop), daemon=True)
            for _ in range(readers)
        ]
    for thread in threads:
        thread.start()
    try:
        yield rec
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def wait_for_ops(
    rec: Recorder, kind: str, n: int, *, after: float, port: int | None = None, timeout: float = 30
) -> None:
    """Wait until ``n`` successful ``kind`` operations started after ``after`` (on ``port``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [
            o
            for o in rec.snapshot()
            if o.kind == kind
            and o.port is not None
            and o.started > after
            and (port is None or o.port == port)
        ]
        if len(done) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} successful {kind}s after the fault within {timeout} s")


@dataclass(frozen=True)
class Report:
    """What one fault did to the load.

    Attributes:
        scenario: Its name.
        ready: Seconds from the fault until a fresh connection could do the work again (the
            test polls with a new connection every 50 ms: what a ``normal`` connection sees).
        recovery: Seconds from the fault to the end of the first successful operation of
            ``kind`` through the load's own connections (a pool's connection attempts are
            retried every 0.1 s doubling to 0.5 s while no suitable server is up).
        errors: Failed operations.
        in_flight_errors: Failed operations that started before the new leader (or the
            surviving replica) accepted work: in flight at the fault, or started during the
            outage (a ``normal`` connection fails fast while no server takes writes).
        late_errors: Failed operations that started after it: the tests require none.
        ok_after: Successful operations started after recovery.
        lost: Acknowledged commits missing on the new leader (``None``: not checked).
    """

    scenario: str
    kind: str
    ready: float
    recovery: float
    errors: int
    in_flight_errors: int
    late_errors: list[str]
    ok_after: int
    lost: int | None = None

    def line(self) -> str:
        """One line for the test output (``pytest -s`` or the durations report)."""
        lost = "" if self.lost is None else f", {self.lost} acknowledged commits lost"
        return (
            f"{self.scenario}: {self.kind}s possible again {self.ready:.2f} s after the fault, "
            f"first by the load {self.recovery:.2f} s; {self.errors} errors "
            f"({self.in_flight_errors} during the outage), "
            f"{len(self.late_errors)} after recovery, {self.ok_after} ok after recovery{lost}"
        )


def report(
    scenario: str,
    rec: Recorder,
    *,
    kind: str,
    fault_at: float,
    ready_at: float,
    on_ports: set[int] | None = None,
    old_port: int | None = None,
) -> Report:
    """Summarise the operations around a fault at ``fault_at``; work was possible at ``ready_at``.

    ``on_ports``: only successes answered by these servers count as recovery (e.g. the new
    leader after a switchover). ``old_port``: the outage starts with the end of the last
    success on that server, if later than ``fault_at`` (a switchover lets the old leader take
    writes until it is demoted).
    """
    ops = [o for o in rec.snapshot() if o.kind == kind]
    if old_port is not None:
        last_old = [o.ended for o in ops if o.port == old_port and o.ended < ready_at]
        fault_at = max([fault_at, *last_old])
    recovered = [
        o.ended
        for o in ops
        if o.port is not None
        and o.started >= fault_at
        and (on_ports is None or o.port in on_ports)
    ]
    errors = [o for o in ops if o.error is not None]
    return Report(
        scenario=scenario,
        kind=kind,
        ready=ready_at - fault_at,
        recovery=min(recovered) - fault_at if recovered else float("inf"),
        errors=len(errors),
        in_flight_errors=sum(1 for o in errors if o.started < ready_at),
        late_errors=[o.error or "" for o in errors if o.started >= ready_at],
        ok_after=sum(1 for o in ops if o.port is not None and o.started >= ready_at),
    )


def acknowledged(rec: Recorder) -> list[int]:
    """Ids whose INSERT was committed and acknowledged."""
    return [
        o.ident
        for o in rec.snapshot()
        if o.kind == "write" and o.ident is not None and o.port is not None
    ]


def lost_commits(leader: PatroniNode, ids: list[int]) -> int:
    """How many acknowledged ids the (new) leader does not have."""
    rows = leader.execute(f"SELECT count(*) FROM {TABLE} WHERE id = ANY(%s)", (ids,))
    return len(ids) - int(rows[0][0])


def ensure_table(cluster: PatroniCluster) -> None:
    """The table the writers insert into (empty)."""
    cluster.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigint PRIMARY KEY, at timestamptz DEFAULT now())"
    )
    cluster.execute(f"TRUNCATE {TABLE}")
    cluster.wait_replicated()


def wait_writable_elsewhere(
    cluster: PatroniCluster, old: PatroniNode, *, same_node_ok: bool = False
) -> tuple[PatroniNode, float]:
    """Poll until a leader accepts a write; return it and when that was first seen."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            leader = cluster.leader()
            if leader is not old or same_node_ok:
                leader.execute("SELECT txid_current()")  # a write: fails on a standby
                return leader, time.monotonic()
        except Exception:  # noqa: S110 - polled until the deadline
            pass
        time.sleep(0.05)
    raise AssertionError(f"no writable leader within 60 s: {cluster.members()}")
