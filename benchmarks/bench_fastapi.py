"""FastAPI: pgmonkey-fastapi apps against hand-written psycopg_pool + lifespan twins.

Each pair runs as two uvicorn servers (the same routes, the same pool sizes). Only one of
them is loaded at a time, in short windows of ``WINDOW_SECONDS`` (0.5 s), alternating
A-B, B-A, ... for ``ROUNDS`` (50) pairs of windows: noise on the shared machine (other
processes, CPU frequency, the table growing) then hits both apps alike within a pair. Two
app pairs:

* ``borrow + SELECT 1``: one worker, one route borrowing a connection (``pg.connection``).
* ``realistic app``: two workers; a write in ``pg.depends_transaction()``, a read through
  ``pg.connection`` and a write that raises (409) after writing, requested in turn; the
  twin uses one ``Depends(..., scope="function")`` over ``pool.connection()``.

The load generator keeps ``CLIENTS`` keep-alive connections busy with one request each,
opened once per app and spread evenly over its workers (a bare asyncio protocol: it costs a
fraction of the apps' CPU per request, and that cost is reported). For each pair of windows
it takes pgmonkey's throughput over the twin's; the median of those per-pair ratios is judged
(target: at least 0.97 for the realistic app) and printed with a distribution-free 95%
confidence interval, its quartiles and range. Also per window: the CPU time per request of
the app's processes (uvicorn and its workers, from ``/proc``; Linux only), whose per-pair
ratios are summarised the same way, and the load generator's own CPU per request.
The result is reported as milliseconds per request (the twin's median, and pgmonkey's as
the median ratio implies), so ``ratio`` is the inverse of the throughput ratio.

On a busy machine the per-pair ratios scatter widely; while the median's confidence interval
still holds the target after ``ROUNDS`` pairs, more pairs are measured, up to ``MAX_ROUNDS``.

``BENCH_FASTAPI_PAIRS=1`` runs only the second app pair (indexes, comma-separated);
``BENCH_FASTAPI_WINDOW`` and ``BENCH_FASTAPI_ROUNDS`` change the window length and count.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _harness import Result

CLIENTS = 32
"""Connections kept busy by the load generator: more than each worker's pool (8) even when
the workers accept them unevenly, so both workers stay saturated."""
WINDOW_SECONDS = float(os.environ.get("BENCH_FASTAPI_WINDOW", "0.5"))
"""Length of one measurement window (one app loaded alone)."""
ROUNDS = int(os.environ.get("BENCH_FASTAPI_ROUNDS", "50"))
"""Window pairs per app pair (A-B, then B-A, ...); the ratios' median is judged."""
MAX_ROUNDS = 3 * ROUNDS
"""More pairs, up to this many, while the median's 95% confidence interval holds the target."""

SELECT_APP = """
import json, os
from typing import Annotated
from fastapi import Depends, FastAPI
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from pgmonkey_fastapi import PGMonkeyFastAPI

pg = PGMonkeyFastAPI(json.loads(os.environ["BENCH_CONFIG"]))
app = FastAPI(lifespan=pg.lifespan)


@app.get("/read/{i}")
async def read(i: int, conn: Annotated[AsyncConnection[TupleRow], Depends(pg.connection)]) -> int:
    cur = await conn.execute("SELECT 1")
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])
"""

# The hand-written twins share this lifespan and dependency.
BASELINE_HEAD = """
import inspect, json, os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from fastapi import Depends, FastAPI, HTTPException, Request
from psycopg import AsyncConnection
from psycopg.conninfo import make_conninfo
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

cfg = json.loads(os.environ["BENCH_CONFIG"])


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    pool = AsyncConnectionPool(
        make_conninfo("", **cfg["connection_settings"]), open=False,
        **cfg["async_pool_settings"],
    )
    await pool.open(wait=True)
    yield {"pool": pool}
    await pool.close()


app = FastAPI(lifespan=lifespan)


async def get_conn(request: Request) -> AsyncIterator[AsyncConnection[TupleRow]]:
    async with request.state.pool.connection() as conn:
        yield conn
"""

SELECT_BASELINE = (
    BASELINE_HEAD
    + """

@app.get("/read/{i}")
async def read(i: int, conn: Annotated[AsyncConnection[TupleRow], Depends(get_conn)]) -> int:
    cur = await conn.execute("SELECT 1")
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])
"""
)

# One read, one write committed before the response, one write rolled back by a 409.
ROUTES = """

@app.get("/read/{i}")
async def read(i: int, conn: Conn) -> int:
    cur = await conn.execute("SELECT count(*) FROM bench_items WHERE id <= %s", (i,))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


@app.post("/write/{i}")
async def write(i: int, conn: Tx) -> int:
    await conn.execute("INSERT INTO bench_items (v) VALUES (%s)", (i,))
    return i


@app.post("/fail/{i}")
async def fail(i: int, conn: Tx) -> int:
    await conn.execute("INSERT INTO bench_items (v) VALUES (%s)", (i,))
    raise HTTPException(status_code=409, detail="conflict")
"""

REALISTIC_APP = (
    """
import json, os
from typing import Annotated
from fastapi import Depends, FastAPI, HTTPException
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from pgmonkey_fastapi import PGMonkeyFastAPI

pg = PGMonkeyFastAPI(json.loads(os.environ["BENCH_CONFIG"]))
app = FastAPI()
pg.init_app(app)
Conn = Annotated[AsyncConnection[TupleRow], Depends(pg.connection)]
Tx = Annotated[AsyncConnection[TupleRow], pg.depends_transaction()]
"""
    + ROUTES
)

REALISTIC_BASELINE = (
    BASELINE_HEAD
    + """
# FastAPI >= 0.121: the dependency exits (commits) before the response.
scoped = {"scope": "function"} if "scope" in inspect.signature(Depends).parameters else {}
Conn = Tx = Annotated[AsyncConnection[TupleRow], Depends(get_conn, **scoped)]
"""
    + ROUTES
)

# Added to every app: which worker serves a connection, to spread the load evenly.
PID_ROUTE = """

@app.get("/pid")
async def pid() -> int:
    return os.getpid()
"""

READ = [("GET", "/read/{}", 200)]
MIXED = [("GET", "/read/{}", 200), ("POST", "/write/{}", 200), ("POST", "/fail/{}", 409)]


@dataclass
class Pair:
    """Two apps serving the same requests: pgmonkey-fastapi and its hand-written twin."""

    case: str
    candidate: str
    baseline: str
    baseline_name: str
    requests: list[tuple[str, str, int]]
    workers: int
    target_ratio: float


PAIRS = [
    Pair(
        "fastapi app: borrow + SELECT 1 (uvicorn)",
        SELECT_APP,
        SELECT_BASELINE,
        "hand-written psycopg_pool + lifespan app",
        READ,
        workers=1,
        target_ratio=1.05,
    ),
    Pair(
        "fastapi realistic app: tx/read/409 (2 workers)",
        REALISTIC_APP,
        REALISTIC_BASELINE,
        "hand-written app, one Depends over psycopg_pool",
        MIXED,
        workers=2,
        # Throughput at least 0.97x the twin's: ms/request at most 1/0.97.
        target_ratio=round(1 / 0.97, 4),
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _process_cpu_seconds(pid: int) -> float:
    try:
        return (
            sum(
                int(Path(task, "schedstat").read_text().split()[0])
                for task in Path(f"/proc/{pid}/task").iterdir()
            )
            / 1e9
        )
    except (OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


class Server:
    """One uvicorn server running ``source`` as module ``module``."""

    def __init__(
        self, directory: Path, module: str, source: str, cfg: dict[str, Any], workers: int
    ) -> None:
        (directory / f"{module}.py").write_text(source + PID_ROUTE)
        port = _free_port()
        env = {**os.environ, "BENCH_CONFIG": json.dumps(cfg)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", f"{module}:app", "--port", str(port),
             "--workers", str(workers), "--app-dir", str(directory), "--no-access-log",
             "--log-level", "warning", "--timeout-keep-alive", "300"],
            env=env,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"

    def cpu_seconds(self) -> float:
        """CPU time of the server and its worker processes, all threads (0.0 off Linux).

        From ``/proc/<pid>/task/<tid>/schedstat`` (nanoseconds on a CPU, exact), else from
        ``/proc/<pid>/stat`` (user + system time, sampled at each clock tick: a window of
        half a second would be off by several percent).
        """
        total = 0.0
        pending = [self.proc.pid]
        while pending:
            pid = pending.pop()
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                total += _process_cpu_seconds(pid)
            except OSError:  # gone, or not Linux
                continue
            pending.extend(int(child) for child in children)
        return total

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


async def _wait_ready(url: str) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(300):
            try:
                if (await http.get("/read/1")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


class _Load(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection sending one request at a time in each window.

    A bare protocol (status line and ``Content-Length``, request bytes prepared in advance):
    an HTTP library, or even asyncio streams, would cost the shared cores more CPU per request
    and leave less for the apps under test.
    """

    def __init__(self) -> None:
        self.window: _Window | None = None
        self.buffer = b""
        self.expected = 0
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] | None = None
        self.answer: asyncio.Future[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    async def ask(self, raw: bytes) -> bytes:
        """Send one request outside any window; its response body."""
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.answer

    def start(self, window: _Window) -> asyncio.Future[None]:
        """Send requests until the window's deadline; the future is set when the last is in."""
        self.window = window
        self.done = asyncio.get_running_loop().create_future()
        self._send()
        return self.done

    def _send(self) -> None:
        window = self.window
        assert window is not None
        assert self.transport is not None
        assert self.done is not None
        if time.perf_counter() >= window.deadline:
            if not self.done.done():
                self.done.set_result(None)
            return
        raw, self.expected = window.next_request()
        self.transport.write(raw)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end]
            marker = head.lower().find(b"content-length:")
            length = int(head[marker + 15 :].split(b"\r\n", 1)[0]) if marker >= 0 else 0
            if len(self.buffer) < head_end + 4 + length:
                return
            body = self.buffer[head_end + 4 : head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length :]
            if self.answer is not None:
                self.answer.set_result(body)
                self.answer = None
                continue
            assert self.window is not None
            self.window.completed += 1
            if int(head[9:12]) != self.expected:
                self.window.errors.append(f"{head[:12]!r}: expected {self.expected}")
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        for waiter in (self.done, self.answer):
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc or ConnectionError("server closed the connection"))


class _Window:
    """The requests of one measurement window (the routes in turn, ids counting up)."""

    def __init__(self, requests: list[tuple[str, str, int]], host: str, seconds: float):
        self.requests = [
            (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n", status)
            for method, path, status in requests
        ]
        self.deadline = time.perf_counter() + seconds
        self.issued = 0
        self.completed = 0
        self.errors: list[str] = []

    def next_request(self) -> tuple[bytes, int]:
        template, status = self.requests[self.issued % len(self.requests)]
        self.issued += 1
        return template.replace("{}", str(self.issued % 2000)).encode(), status


@dataclass
class Sample:
    """What one window measured for one app."""

    requests: int
    rps: float
    cpu_ms: float  # the app's processes (server + workers), CPU ms per request
    loader_cpu_ms: float  # the load generator's own CPU ms per request


class _Loader:
    """Loads one server from :data:`CLIENTS` keep-alive connections, window by window.

    The connections are opened once and spread evenly over the server's workers (each asks
    ``/pid`` which worker serves it): left to the accept race, one worker can take most of
    them, leaving the other idle and the throughput to chance.
    """

    def __init__(self, server: Server, requests: list[tuple[str, str, int]]) -> None:
        self.server = server
        self.requests = requests
        self.host, port = server.url.removeprefix("http://").split(":")
        self.port = int(port)
        self.protocols: list[_Load] = []

    async def open(self, workers: int) -> None:
        """Open the connections, ``CLIENTS / workers`` served by each worker."""
        loop = asyncio.get_running_loop()
        per_worker = -(-CLIENTS // workers)
        served: dict[bytes, int] = {}
        ask = f"GET /pid HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: 0\r\n\r\n".encode()
        for _ in range(50 * CLIENTS):
            if len(self.protocols) == CLIENTS:
                return
            protocol = (await loop.create_connection(_Load, self.host, self.port))[1]
            pid = await protocol.ask(ask)
            if served.get(pid, 0) < per_worker:
                served[pid] = served.get(pid, 0) + 1
                self.protocols.append(protocol)
            elif protocol.transport is not None:
                protocol.transport.close()
        raise RuntimeError(f"could not spread {CLIENTS} connections over {workers} workers")

    def close(self) -> None:
        for protocol in self.protocols:
            if protocol.transport is not None:
                protocol.transport.close()

    async def window(self, seconds: float) -> Sample:
        """Keep every connection busy for ``seconds``; the app's and the loader's costs."""
        cpu, loader_cpu = self.server.cpu_seconds(), time.process_time()
        start = time.perf_counter()
        window = _Window(self.requests, self.host, seconds)
        await asyncio.gather(*(protocol.start(window) for protocol in self.protocols))
        elapsed = time.perf_counter() - start
        if window.errors:
            raise RuntimeError(f"{len(window.errors)} failed requests: {window.errors[:3]}")
        n = window.completed
        return Sample(
            requests=n,
            rps=n / elapsed,
            cpu_ms=(self.server.cpu_seconds() - cpu) * 1000 / n,
            loader_cpu_ms=(time.process_time() - loader_cpu) * 1000 / n,
        )


async def _measure(pair: Pair, cand: Server, base: Server) -> list[tuple[Sample, Sample]]:
    """``(pgmonkey, twin)`` samples of adjacent windows, in A-B-B-A order."""
    await _wait_ready(cand.url)
    await _wait_ready(base.url)
    loaders = _Loader(cand, pair.requests), _Loader(base, pair.requests)
    try:
        for loader in loaders:
            await loader.open(pair.workers)
            await loader.window(2.0)  # warm up (imports, pools, caches)
        pairs: list[tuple[Sample, Sample]] = []
        target = 1 / pair.target_ratio  # the least acceptable throughput ratio
        while len(pairs) < ROUNDS or (
            len(pairs) < MAX_ROUNDS and _undecided([c.rps / b.rps for c, b in pairs], target)
        ):
            i = len(pairs)
            first, second = loaders if i % 2 else loaders[::-1]
            one = await first.window(WINDOW_SECONDS)
            two = await second.window(WINDOW_SECONDS)
            pairs.append((one, two) if i % 2 else (two, one))
        return pairs
    finally:
        for loader in loaders:
            loader.close()


def _undecided(ratios: list[float], target: float) -> bool:
    """Whether the median's 95% confidence interval still straddles ``target``."""
    spread = _spread(ratios)
    return spread["ci95_low"] < target < spread["ci95_high"]


def _spread(values: list[float]) -> dict[str, float]:
    """Median, a distribution-free 95% confidence interval of it, quartiles and range."""
    ordered = sorted(values)
    n = len(ordered)
    q1, median, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    k = max(0, math.floor((n - 1.96 * math.sqrt(n)) / 2))  # order statistics around the median
    return {
        "median": median,
        "ci95_low": ordered[k],
        "ci95_high": ordered[n - 1 - k],
        "q1": q1,
        "q3": q3,
        "min": ordered[0],
        "max": ordered[-1],
    }


def _describe(spread: dict[str, float]) -> str:
    return (
        f"median {spread['median']:.3f} (95% CI {spread['ci95_low']:.3f}-"
        f"{spread['ci95_high']:.3f}; quartiles {spread['q1']:.3f}-{spread['q3']:.3f}; "
        f"range {spread['min']:.3f}-{spread['max']:.3f})"
    )


def _run_pair(pair: Pair, cfg: dict[str, Any]) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        servers: list[Server] = []
        try:
            servers.append(Server(directory, "bench_cand", pair.candidate, cfg, pair.workers))
            servers.append(Server(directory, "bench_base", pair.baseline, cfg, pair.workers))
            samples = asyncio.run(_measure(pair, *servers))
        finally:
            for server in servers:
                server.stop()
    # Each round pairs two adjacent windows (A-B-B-A order cancels drift); the median of the
    # per-pair ratios is far less sensitive to a busy machine than a ratio of medians.
    throughput = _spread([c.rps / b.rps for c, b in samples])
    cpu = _spread([c.cpu_ms / b.cpu_ms for c, b in samples]) if samples[0][1].cpu_ms else None
    base_rps = statistics.median(b.rps for _, b in samples)
    loader_cpu = statistics.median(s.loader_cpu_ms for p in samples for s in p)
    print(f"     {len(samples)} window pairs of {WINDOW_SECONDS:g} s; pgmonkey / twin per pair:")
    print(f"     throughput   {_describe(throughput)}")
    if _undecided([c.rps / b.rps for c, b in samples], 1 / pair.target_ratio):
        print(f"     (the interval holds the target {1 / pair.target_ratio:.3f}: a busy machine)")
    if cpu is not None:
        print(f"     CPU/request  {_describe(cpu)}")
    print(f"     load generator: {loader_cpu:.3f} CPU ms/request", flush=True)
    return Result(
        case=pair.case,
        metric="ms/request",
        # The twin's median throughput, and pgmonkey's as the median per-pair ratio says.
        candidate=1000.0 / (base_rps * throughput["median"]),
        baseline_name=pair.baseline_name,
        baseline=1000.0 / base_rps,
        target_ratio=pair.target_ratio,
        extra={
            "throughput_ratio": throughput,
            "cpu_per_request_ratio": cpu,
            "pgmonkey_rps": [c.rps for c, _ in samples],
            "baseline_rps": [b.rps for _, b in samples],
            "pgmonkey_cpu_ms_per_request": [c.cpu_ms for c, _ in samples],
            "baseline_cpu_ms_per_request": [b.cpu_ms for _, b in samples],
            "load_generator_cpu_ms_per_request": [s.loader_cpu_ms for p in samples for s in p],
            "workers": pair.workers,
            "clients": CLIENTS,
            "window_seconds": WINDOW_SECONDS,
            "rounds": len(samples),
        },
    )


def run(ctx: dict[str, Any]) -> list[Result]:
    """Throughput of each app pair, as ms per request (lower is better)."""
    server = ctx["server"]
    cfg = server.config()
    cfg["async_pool_settings"] = {"min_size": 8, "max_size": 8, "timeout": 30}
    # Commits do not wait for the disk: the apps' own costs, not fsync, decide throughput.
    cfg["connection_settings"]["options"] = "-c synchronous_commit=off"
    dbname = cfg["connection_settings"]["dbname"]
    server.execute(
        "CREATE TABLE IF NOT EXISTS bench_items (id serial PRIMARY KEY, v int)", dbname=dbname
    )
    selected = os.environ.get("BENCH_FASTAPI_PAIRS")  # e.g. "1": only the realistic app
    results = []
    for index, pair in enumerate(PAIRS):
        if selected is None or str(index) in selected.split(","):
            print(f"   {pair.case}", flush=True)
            results.append(_run_pair(pair, cfg))
    return results
