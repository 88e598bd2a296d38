"""FastAPI: pgmonkey-fastapi apps against hand-written psycopg_pool + lifespan twins.

Each pair runs as two uvicorn servers (the same routes, the same pool sizes), loaded
alternately (A-B-B-A rounds) by the same load generator (plain keep-alive sockets, so the
servers, not the client, set the pace), so both see the same machine noise. Two pairs:

* ``borrow + SELECT 1``: one worker, one route borrowing a connection (``pg.connection``).
* ``realistic app``: two workers; a write in ``pg.depends_transaction()``, a read through
  ``pg.connection`` and a write that raises (409) after writing, requested in turn; the
  twin uses one ``Depends(..., scope="function")`` over ``pool.connection()``.

Reported as milliseconds per request (the inverse of throughput); the targets are ratios
against the twin. The server processes' CPU time per request is kept in the JSON too
(Linux only): it is far less sensitive to a busy machine than throughput.
``BENCH_FASTAPI_PAIRS=1`` runs only the second pair (indexes, comma-separated).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _harness import Result

CLIENTS = 64
REQUESTS_PER_ROUND = 2000
ROUNDS = 12

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


class Server:
    """One uvicorn server running ``source`` as module ``module``."""

    def __init__(
        self, directory: Path, module: str, source: str, cfg: dict[str, Any], workers: int
    ) -> None:
        (directory / f"{module}.py").write_text(source)
        port = _free_port()
        env = {**os.environ, "BENCH_CONFIG": json.dumps(cfg)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", f"{module}:app", "--port", str(port),
             "--workers", str(workers), "--app-dir", str(directory), "--no-access-log",
             "--log-level", "warning"],
            env=env,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server and its worker processes (0.0 off Linux)."""
        tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        total = 0
        pending = [self.proc.pid]
        while pending:
            pid = pending.pop()
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
            pending.extend(int(child) for child in children)
        return total / tick

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


async def _client(
    host: str, port: int, requests: list[tuple[str, str, int]], take: Callable[[], int | None]
) -> list[str]:
    """One keep-alive HTTP/1.1 connection sending requests until ``take()`` says stop.

    A plain socket client (status line, ``Content-Length`` body): an HTTP library would cost
    more CPU per request than the apps under test, and the machine's cores are shared.
    """
    reader, writer = await asyncio.open_connection(host, port)
    errors: list[str] = []
    try:
        while (i := take()) is not None:
            method, path, status = requests[i % len(requests)]
            target = path.format(i)
            writer.write(
                f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n"
                .encode()
            )  # fmt: skip
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = next(
                int(line.split(":", 1)[1])
                for line in lines
                if line.lower().startswith("content-length:")
            )
            await reader.readexactly(length)
            got = int(lines[0].split()[1])
            if got != status:
                errors.append(f"{method} {target}: {got}")
    finally:
        writer.close()
    return errors


async def _round(url: str, requests: list[tuple[str, str, int]], count: int) -> float:
    """Requests per second for ``count`` requests (``requests`` in turn) from many clients."""
    host, port = url.removeprefix("http://").split(":")
    issued = 0

    def take() -> int | None:
        nonlocal issued
        if issued >= count:
            return None
        issued += 1
        return issued - 1

    start = time.perf_counter()
    results = await asyncio.gather(
        *(_client(host, int(port), requests, take) for _ in range(CLIENTS))
    )
    elapsed = time.perf_counter() - start
    errors = [e for result in results for e in result]
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests against {url}: {errors[:3]}")
    return count / elapsed


async def _measure(pair: Pair, cand: Server, base: Server) -> dict[str, list[float]]:
    """Requests per second and CPU ms per request of both apps, round after round."""
    await _wait_ready(cand.url)
    await _wait_ready(base.url)
    for server in (cand, base):  # warm up both
        await _round(server.url, pair.requests, REQUESTS_PER_ROUND // 4)
    out: dict[str, list[float]] = {"cand": [], "base": [], "cand_cpu": [], "base_cpu": []}
    for i in range(ROUNDS):
        order = [(cand, "cand"), (base, "base")]
        for server, key in order if i % 2 else reversed(order):
            cpu = server.cpu_seconds()
            out[key].append(await _round(server.url, pair.requests, REQUESTS_PER_ROUND))
            out[f"{key}_cpu"].append((server.cpu_seconds() - cpu) * 1000 / REQUESTS_PER_ROUND)
    return out


def _run_pair(pair: Pair, cfg: dict[str, Any]) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        servers: list[Server] = []
        try:
            servers.append(Server(directory, "bench_cand", pair.candidate, cfg, pair.workers))
            servers.append(Server(directory, "bench_base", pair.baseline, cfg, pair.workers))
            m = asyncio.run(_measure(pair, *servers))
        finally:
            for server in servers:
                server.stop()
    # Each round pairs two adjacent measurements (ABBA order cancels drift); the median of the
    # per-pair ratios is far less sensitive to a busy machine than a ratio of medians.
    base_rps = statistics.median(m["base"])
    pair_ratio = statistics.median(b / c for c, b in zip(m["cand"], m["base"], strict=True))
    cand_rps = base_rps / pair_ratio
    cpu_ratio = statistics.median(
        c / b for c, b in zip(m["cand_cpu"], m["base_cpu"], strict=True) if b
    ) if any(m["base_cpu"]) else None  # fmt: skip
    return Result(
        case=pair.case,
        metric="ms/request",
        candidate=1000.0 / cand_rps,
        baseline_name=pair.baseline_name,
        baseline=1000.0 / base_rps,
        target_ratio=pair.target_ratio,
        extra={
            "pgmonkey_rps": m["cand"],
            "baseline_rps": m["base"],
            "pgmonkey_cpu_ms_per_request": m["cand_cpu"],
            "baseline_cpu_ms_per_request": m["base_cpu"],
            "cpu_ratio_median": cpu_ratio,
            "throughput_ratio": 1 / pair_ratio,
            "workers": pair.workers,
            "clients": CLIENTS,
            "requests_per_round": REQUESTS_PER_ROUND,
            "rounds": ROUNDS,
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
