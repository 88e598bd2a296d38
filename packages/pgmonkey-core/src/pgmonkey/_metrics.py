"""OpenTelemetry metrics of pgmonkey's connections, named by the semantic conventions.

pgmonkey is an instrumentation library: it uses ``opentelemetry-api`` only (the optional extra
``pgmonkey-core[otel]``) and reports to the MeterProvider the application configured. When the
API is not installed, or the configuration says ``metrics: false`` (top level, or a pool
section's own key), no instrument is created and a block costs one ``None`` check. While the
application has set up no MeterProvider, a recorder is dormant and times nothing until the
first collection (see :class:`PoolMetrics`).

Instruments (attribute ``db.client.connection.pool.name`` on every point; never a DSN, host,
user name or password):

* ``db.client.connection.count`` (observable UpDownCounter, ``{connection}``), by
  ``db.client.connection.state`` = ``idle``/``used``;
* ``db.client.connection.max``, ``.idle.max``, ``.idle.min`` (observable UpDownCounters,
  ``{connection}``) and ``.pending_requests`` (``{request}``), read from psycopg_pool's
  ``get_stats()`` (which resets nothing) when the reader collects;
* ``db.client.connection.timeouts`` (Counter, ``{timeout}``): borrows that timed out;
* ``db.client.connection.create_time``, ``.wait_time``, ``.use_time`` (Histograms, ``s``,
  with bucket boundaries in seconds advised to the SDK, :data:`BUCKETS`): timed by the pool's
  connection class and by the pool class itself (``getconn``/``putconn``, see
  :mod:`pgmonkey.connections._timed_pools`), whoever borrows.

An unpooled connection (``normal``, ``async``) is reported as a pool of at most one
connection, named ``connection-1``, ``connection-2``, ... in the order the process creates
them (psycopg_pool numbers unnamed pools the same way): ``count`` is ``used`` while one of
pgmonkey's blocks holds it and ``idle`` while it is open between blocks; ``max`` and
``idle.max`` are 1, ``idle.min`` is 0; ``pending_requests`` counts the blocks waiting for the
block in progress; ``wait_time`` is the time a block took to get the open connection (waiting
for another block, reconnecting), ``use_time`` the time the block held it, ``create_time`` each
connect. It never times out, so it counts no ``timeouts``.

A borrow only appends its two durations to a bounded queue (``deque.append``, thread-safe, no
lock); the queues are recorded into the histograms when a reader collects (the SDK runs the
observable callbacks before it aggregates), so the SDK's per-value cost (several µs) is paid
by the collecting thread, not by the request. Beyond ``BUFFERED`` values between two
collections (no reader, or a rare one) values are recorded at once: nothing is lost and memory
stays bounded.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from time import perf_counter
from typing import Any

from pgmonkey._version import __version__

__all__ = [
    "BUCKETS",
    "PoolMetrics",
    "attach",
    "attach_connection",
    "metrics_of",
    "set_meter_provider",
    "unpooled_stats",
]

POOL_NAME = "db.client.connection.pool.name"
STATE = "db.client.connection.state"
#: Durations a pool keeps per histogram between two collections before recording at once.
BUFFERED = 65536
#: Histogram bucket boundaries in seconds, advised to the SDK. Its default boundaries
#: (0, 5, 10, 25, ... 10000) suit milliseconds: in seconds every connection time would fall in
#: the first bucket. These are the semantic conventions' duration buckets, refined below 5 ms
#: where a borrow from a warm pool lands.
BUCKETS: tuple[float, ...] = (
    0.0001,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)

#: What a source of counts reports, in psycopg_pool's ``get_stats()`` keys; ``None``: closed.
Stats = dict[str, int] | None

_UNSET: Any = object()
_lock = threading.Lock()
_provider: Any = None  # an explicit MeterProvider; None: OpenTelemetry's global one
_instruments: list[tuple[Any, _Instruments]] = []  # (provider, its instruments)
_by_pool: weakref.WeakKeyDictionary[Any, PoolMetrics] = weakref.WeakKeyDictionary()
_api: Any = _UNSET
_connection_numbers = itertools.count(1)


def _metrics_api() -> Any:
    """``opentelemetry.metrics``, or ``None`` when opentelemetry-api is not installed."""
    global _api
    if _api is _UNSET:
        try:
            from opentelemetry import metrics as api
        except ImportError:
            _api = None
        else:
            _api = api
    return _api


def set_meter_provider(provider: Any) -> None:
    """Report the pools opened from now on to ``provider`` (``None``: the global provider).

    Args:
        provider: An OpenTelemetry ``MeterProvider``, or ``None``.
    """
    global _provider
    with _lock:
        _provider = provider


class _Instruments:
    """The instruments of one meter, and the pools its observable instruments read."""

    def __init__(self, api: Any, provider: Any) -> None:
        meter = (
            api.get_meter("pgmonkey", __version__)
            if provider is None
            else provider.get_meter("pgmonkey", __version__)
        )
        # A no-op meter (an SDK disabled by OTEL_SDK_DISABLED, a NoOpMeterProvider) never
        # collects: its recorders stay dormant.
        self.noop = isinstance(meter, api.NoOpMeter)
        # What the observable instruments read: psycopg_pool pools and pgmonkey's unpooled
        # connections, each with its recorder and the function reading its counts.
        self.sources: weakref.WeakKeyDictionary[
            Any, tuple[PoolMetrics, Callable[[Any], Stats]]
        ] = weakref.WeakKeyDictionary()
        self._observation = api.Observation
        self.timeouts = meter.create_counter(
            "db.client.connection.timeouts",
            unit="{timeout}",
            description="The number of connection timeouts that have occurred trying to "
            "obtain a connection from the pool.",
        )
        histograms = {
            "create_time": "The time it took to create a new connection.",
            "wait_time": "The time it took to obtain an open connection from the pool.",
            "use_time": "The time between borrowing a connection and returning it to the pool.",
        }
        self.create_time, self.wait_time, self.use_time = (
            meter.create_histogram(
                f"db.client.connection.{key}",
                unit="s",
                description=text,
                explicit_bucket_boundaries_advisory=list(BUCKETS),
            )
            for key, text in histograms.items()
        )
        meter.create_observable_up_down_counter(
            "db.client.connection.count",
            callbacks=[self._count],
            unit="{connection}",
            description="The number of connections that are currently in state described by "
            "the state attribute.",
        )
        gauges = {
            "max": ("pool_max", "{connection}", "The maximum number of open connections allowed."),
            "idle.max": (
                "pool_max",
                "{connection}",
                "The maximum number of idle open connections allowed.",
            ),
            "idle.min": (
                "pool_min",
                "{connection}",
                "The minimum number of idle open connections allowed.",
            ),
            "pending_requests": (
                "requests_waiting",
                "{request}",
                "The number of current pending requests for an open connection.",
            ),
        }
        for suffix, (stat, unit, text) in gauges.items():
            meter.create_observable_up_down_counter(
                f"db.client.connection.{suffix}",
                callbacks=[self._stat_reader(stat)],
                unit=unit,
                description=text,
            )

    def _open_sources(self) -> Iterator[tuple[PoolMetrics, dict[str, int]]]:
        for source, (recorder, read) in list(self.sources.items()):
            stats = read(source)
            if stats is not None:
                yield recorder, stats

    def _count(self, _options: Any) -> Iterator[Any]:
        # Runs first at each collection: a reader exists, so dormant recorders start timing.
        for source, (recorder, _read) in list(self.sources.items()):
            if not recorder.live:
                recorder.wake(source)
            recorder.flush()
        for recorder, stats in self._open_sources():
            idle = stats.get("pool_available", 0)
            used = max(stats.get("pool_size", 0) - idle, 0)
            yield self._observation(idle, recorder.idle_attributes)
            yield self._observation(used, recorder.used_attributes)

    def _stat_reader(self, stat: str) -> Any:
        def read(_options: Any) -> Iterator[Any]:
            for recorder, stats in self._open_sources():
                yield self._observation(stats.get(stat, 0), recorder.attributes)

        return read


def _pool_stats(pool: Any) -> Stats:
    """psycopg_pool's statistics of an open pool (``get_stats()`` resets nothing)."""
    return None if pool.closed else dict(pool.get_stats())


class PoolMetrics:
    """What one pool (or unpooled connection) records: waits, use times, creations, timeouts.

    A recorder made while the application has set up no MeterProvider (or a no-op one) is
    *dormant*: its pool is psycopg_pool's own class and its blocks time nothing, so metrics
    cost nothing. The first collection (a MeterProvider set up since then, and its reader
    collecting) wakes it: from then on it times every borrow.

    Attributes:
        attributes: ``{"db.client.connection.pool.name": name}``, bound once.
        waiting: The callers waiting for an unpooled connection's block in progress.
        live: Whether its borrows are timed (``False``: dormant).
    """

    __slots__ = (
        "_create",
        "_instruments",
        "_timed_class",
        "_timeouts",
        "_use",
        "_uses",
        "_wait",
        "_waits",
        "attributes",
        "idle_attributes",
        "live",
        "used_attributes",
        "waiting",
    )

    def __init__(self, instruments: _Instruments, *, live: bool = True) -> None:
        self._instruments = instruments
        self.live = live
        self._timed_class: type | None = None
        self.attributes: dict[str, str] = {}
        self.idle_attributes: dict[str, str] = {}
        self.used_attributes: dict[str, str] = {}
        self._wait = instruments.wait_time.record
        self._use = instruments.use_time.record
        self._create = instruments.create_time.record
        self._timeouts = instruments.timeouts.add
        self._waits: deque[float] = deque()
        self._uses: deque[float] = deque()
        self.waiting: set[Hashable] = set()

    def bind(self, pool: Any, timed_class: type) -> None:
        """Name the points after ``pool.name`` and let the observable instruments read it.

        Args:
            pool: A psycopg_pool pool: of ``timed_class`` when :attr:`live`, else of its
                parent class, psycopg_pool's own, until :meth:`wake` changes its class.
            timed_class: pgmonkey's subclass that times the borrows.
        """
        self._timed_class = timed_class
        self._register(pool, str(pool.name), _pool_stats)
        with _lock:
            _by_pool[pool] = self

    def _register(self, source: Any, name: str, read: Callable[[Any], Stats]) -> None:
        self.attributes = {POOL_NAME: name}
        self.idle_attributes = {**self.attributes, STATE: "idle"}
        self.used_attributes = {**self.attributes, STATE: "used"}
        with _lock:
            self._instruments.sources[source] = (self, read)

    def wake(self, source: Any) -> None:
        """Start timing the borrows of ``source``, the pool or connection this one records.

        A dormant pool becomes an instance of the timed class; a borrow it lent before is not
        timed when it comes back.
        """
        if self._timed_class is not None and not isinstance(source, self._timed_class):
            source.__class__ = self._timed_class
        self.live = True

    def wait_turn(self, lock: threading.Lock, me: Hashable) -> None:
        """Take an unpooled connection's ``lock`` that another block holds, counted as pending.

        The block tries ``lock.acquire(False)`` first: only a block that must wait calls this.
        """
        self.waiting.add(me)
        try:
            lock.acquire()
        finally:
            self.waiting.discard(me)

    async def wait_turn_async(self, lock: Any, me: Hashable) -> None:
        """:meth:`wait_turn` for an ``asyncio.Lock``."""
        self.waiting.add(me)
        try:
            await lock.acquire()
        finally:
            self.waiting.discard(me)

    def lent(self, conn: Any, start: float) -> None:
        """Note that the pool lends ``conn`` now, to a borrow that began at ``start``.

        The time it is lent is kept on the connection (``pgmonkey_lent_at``, see
        :class:`~pgmonkey.connections.PooledConnection`) for :meth:`returned`.
        """
        conn.pgmonkey_lent_at = now = perf_counter()
        self.waited(now - start)

    def returned(self, conn: Any) -> None:
        """Record how long ``conn``, given back to the pool now, was held (once per loan)."""
        lent = conn.pgmonkey_lent_at
        if lent:
            conn.pgmonkey_lent_at = 0.0
            self.used(perf_counter() - lent)

    def waited(self, seconds: float) -> None:
        """Record the time a borrow waited for a connection (at the next collection)."""
        if len(self._waits) < BUFFERED:
            self._waits.append(seconds)
        else:
            self._wait(seconds, self.attributes)

    def used(self, seconds: float) -> None:
        """Record the time a borrowed connection was held (at the next collection)."""
        if len(self._uses) < BUFFERED:
            self._uses.append(seconds)
        else:
            self._use(seconds, self.attributes)

    def flush(self) -> None:
        """Record the queued wait and use times into their histograms."""
        attributes = self.attributes
        for queue, record in ((self._waits, self._wait), (self._uses, self._use)):
            take = queue.popleft
            while True:
                try:
                    value = take()
                except IndexError:
                    break
                record(value, attributes)

    def created(self, seconds: float) -> None:
        """Record the time a new connection took to open."""
        self._create(seconds, self.attributes)

    def timed_out(self) -> None:
        """Count a borrow that timed out."""
        self._timeouts(1, self.attributes)


def attach(enabled: bool) -> PoolMetrics | None:
    """A recorder for a pool about to be built, or ``None`` (metrics off or unavailable).

    Args:
        enabled: The configuration's ``metrics`` switch.
    """
    if not enabled:
        return None
    api = _metrics_api()
    if api is None:
        return None
    with _lock:
        provider = _provider
        found = [made for known, made in _instruments if known is provider]
        if not found:
            found.append(_Instruments(api, provider))
            _instruments.append((provider, found[0]))
    instruments = found[0]
    live = not instruments.noop and (provider is not None or not _no_provider_yet(api))
    return PoolMetrics(instruments, live=live)


def _no_provider_yet(api: Any) -> bool:
    """Whether the global MeterProvider is still opentelemetry-api's placeholder.

    The API hands out a proxy provider until the application sets one; its instruments drop
    every value, and become real ones when a provider is set. The API offers no public test
    for it, hence the class name (a renamed class makes every recorder live: correct, only
    not free).
    """
    return type(api.get_meter_provider()).__name__ == "_ProxyMeterProvider"


def attach_connection(owner: Any, enabled: bool) -> PoolMetrics | None:
    """A recorder for an unpooled connection, named ``connection-N``, or ``None``.

    Args:
        owner: A pgmonkey ``Connection`` or ``AsyncConnection``; its ``_metric_stats()``
            reports its counts (``None`` once it is retired).
        enabled: The configuration's ``metrics`` switch.
    """
    recorder = attach(enabled)
    if recorder is not None:
        with _lock:
            name = f"connection-{next(_connection_numbers)}"
        recorder._register(owner, name, type(owner)._metric_stats)
    return recorder


def unpooled_stats(is_open: bool, used: bool, recorder: PoolMetrics) -> dict[str, int]:
    """The counts of an unpooled connection, as psycopg_pool's ``get_stats()`` names them."""
    return {
        "pool_min": 0,
        "pool_max": 1,
        "pool_size": int(is_open),
        "pool_available": int(is_open and not used),
        "requests_waiting": len(recorder.waiting),
    }


def metrics_of(pool: Any) -> PoolMetrics | None:
    """The recorder bound to a psycopg_pool pool, or ``None``."""
    return _by_pool.get(pool)
