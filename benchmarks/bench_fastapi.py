"""FastAPI: a pgmonkey-fastapi app against a hand-written psycopg_pool + lifespan app.

Both apps run in their own uvicorn process (one worker, same route: borrow a connection,
``SELECT 1``), loaded alternately by the same async httpx load generator (64 concurrent
clients), so both see the same machine noise. Reported as milliseconds per request (the
inverse of throughput); the target is pgmonkey within 5% of the baseline.
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
from pathlib import Path
from typing import Any

from _harness import Result

CLIENTS = 64
REQUESTS_PER_ROUND = 800
ROUNDS = 12

PGMONKEY_APP = """
import json, os
from typing import Annotated, Any
from fastapi import Depends, FastAPI
from pgmonkey_fastapi import PGMonkeyFastAPI

pg = PGMonkeyFastAPI(json.loads(os.environ["BENCH_CONFIG"]))
app = FastAPI(lifespan=pg.lifespan)


@app.get("/read")
async def read(conn: Annotated[Any, Depends(pg.connection)]) -> int:
    cur = await conn.execute("SELECT 1")
    return (await cur.fetchone())[0]
"""

BASELINE_APP = """
import json, os
from contextlib import asynccontextmanager
from typing import Annotated, Any
from fastapi import Depends, FastAPI, Request
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool

cfg = json.loads(os.environ["BENCH_CONFIG"])


@asynccontextmanager
async def lifespan(app):
    pool = AsyncConnectionPool(
        make_conninfo("", **cfg["connection_settings"]), open=False,
        **cfg["async_pool_settings"],
    )
    await pool.open(wait=True)
    yield {"pool": pool}
    await pool.close()


app = FastAPI(lifespan=lifespan)


async def get_conn(request: Request):
    async with request.state.pool.connection() as conn:
        yield conn


@app.get("/read")
async def read(conn: Annotated[Any, Depends(get_conn)]) -> int:
    cur = await conn.execute("SELECT 1")
    return (await cur.fetchone())[0]
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(directory: Path, module: str, source: str, cfg: dict[str, Any]) -> tuple[Any, str]:
    (directory / f"{module}.py").write_text(source)
    port = _free_port()
    env = {**os.environ, "BENCH_CONFIG": json.dumps(cfg)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"{module}:app", "--port", str(port),
         "--app-dir", str(directory), "--no-access-log", "--log-level", "warning"],
        env=env,
    )  # fmt: skip
    return proc, f"http://127.0.0.1:{port}"


async def _wait_ready(url: str) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(300):
            try:
                if (await http.get("/read")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


async def _round(url: str, requests: int) -> float:
    """Requests per second for ``requests`` requests from ``CLIENTS`` concurrent clients."""
    import httpx

    remaining = requests
    errors = 0
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

        async def client() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                if (await http.get("/read")).status_code != 200:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{errors} failed requests against {url}")
    return requests / elapsed


async def _measure(pgmonkey_url: str, baseline_url: str) -> tuple[list[float], list[float]]:
    await _wait_ready(pgmonkey_url)
    await _wait_ready(baseline_url)
    await _round(pgmonkey_url, REQUESTS_PER_ROUND // 4)  # warm up both
    await _round(baseline_url, REQUESTS_PER_ROUND // 4)
    cand: list[float] = []
    base: list[float] = []
    for i in range(ROUNDS):
        order = [(pgmonkey_url, cand), (baseline_url, base)]
        for url, out in order if i % 2 else reversed(order):
            out.append(await _round(url, REQUESTS_PER_ROUND))
    return cand, base


def run(ctx: dict[str, Any]) -> list[Result]:
    """Throughput of the two apps, as ms per request (lower is better)."""
    server = ctx["server"]
    cfg = server.config()
    cfg["async_pool_settings"] = {"min_size": 8, "max_size": 8, "timeout": 30}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        procs = []
        try:
            proc_a, url_a = _start(directory, "bench_pgmonkey_app", PGMONKEY_APP, cfg)
            procs.append(proc_a)
            proc_b, url_b = _start(directory, "bench_baseline_app", BASELINE_APP, cfg)
            procs.append(proc_b)
            cand, base = asyncio.run(_measure(url_a, url_b))
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(30)
    # Each round pairs two adjacent measurements (ABBA order cancels drift); the median of the
    # per-pair ratios is far less sensitive to a busy machine than a ratio of medians.
    base_rps = statistics.median(base)
    pair_ratio = statistics.median(b / c for c, b in zip(cand, base, strict=True))
    cand_rps = base_rps / pair_ratio
    return [
        Result(
            case="fastapi app: borrow + SELECT 1 (uvicorn)",
            metric="ms/request",
            candidate=1000.0 / cand_rps,
            baseline_name="hand-written psycopg_pool + lifespan app",
            baseline=1000.0 / base_rps,
            target_ratio=1.05,
            extra={
                "pgmonkey_rps": cand,
                "baseline_rps": base,
                "clients": CLIENTS,
                "requests_per_round": REQUESTS_PER_ROUND,
                "rounds": ROUNDS,
                "pgmonkey_rps_median": statistics.median(cand),
                "pair_ratio_median": pair_ratio,
            },
        )
    ]
