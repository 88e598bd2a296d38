"""A throwaway Patroni cluster on loopback, for :mod:`pgmonkey.testing`.

:func:`start_patroni_cluster` starts 1 or 3 etcd members, then three (by default) PostgreSQL
nodes each run by Patroni, and optionally HAProxy in front of them, every process on
127.0.0.1 with free ports and its data in one temporary directory. Patroni and etcd come from
the system (Debian/Ubuntu: ``apt-get install patroni etcd-server haproxy``; or Patroni from
PyPI, ``pip install 'patroni[etcd3,psycopg3]'``). Under root every process runs as the same
unprivileged account as :func:`pgmonkey.testing.start_server`'s servers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pgmonkey.errors import TestServerError
from pgmonkey.testing._account import ServerAccount
from pgmonkey.testing._base import ServerBase, wrap_connection_settings
from pgmonkey.testing._binaries import find_bindir
from pgmonkey.testing._cleanup import register, unregister
from pgmonkey.testing._net import free_port
from pgmonkey.testing._settings import ENV_ETCD, ENV_PATRONI
from pgmonkey.testing._supervise import Supervised, kill_postmaster, postmaster_pid, wait_until

__all__ = [
    "HAProxy",
    "PatroniCluster",
    "PatroniNode",
    "find_etcd",
    "find_haproxy",
    "find_patroni",
    "start_patroni_cluster",
]

LOOPBACK = "127.0.0.1"
_PASSWORD = "patroni-test-pw"  # noqa: S105 - a throwaway server on loopback
_REPLICATION = ("replicator", "replicator-test-pw")

# Patroni requires loop_wait + 2 * retry_timeout <= ttl. These settle a failover in seconds on
# loopback; Patroni's own defaults are ttl 30, loop_wait 10, retry_timeout 10. Patroni's etcd3
# client refuses to take the leader lock with less than 1 s of retry_timeout left after renewing
# its lease, so over the v3 protocol retry_timeout must be at least 2 (and ttl at least 5).
FAST_TIMINGS: Mapping[str, Mapping[str, int]] = {
    "etcd": {"ttl": 3, "loop_wait": 1, "retry_timeout": 1},
    "etcd3": {"ttl": 5, "loop_wait": 1, "retry_timeout": 2},
}
_DCS_PROTOCOLS = tuple(FAST_TIMINGS)


def _find(executable: str | os.PathLike[str] | None, env: str, name: str) -> Path | None:
    if executable is not None:
        candidates: list[str | os.PathLike[str] | None] = [executable]
    elif os.environ.get(env):
        candidates = [os.environ[env]]
    else:
        candidates = [shutil.which(name), f"/usr/bin/{name}", f"/usr/sbin/{name}"]
        candidates += [f"/usr/local/bin/{name}", f"/opt/homebrew/bin/{name}"]
    for candidate in candidates:
        if candidate is not None and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def find_patroni(executable: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the ``patroni`` executable (``executable``, ``PGMONKEY_PATRONI``, ``PATH``)."""
    return _find(executable, ENV_PATRONI, "patroni")


def find_etcd(executable: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the ``etcd`` executable (``executable``, ``PGMONKEY_ETCD``, ``PATH``)."""
    return _find(executable, ENV_ETCD, "etcd")


def find_haproxy(executable: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the ``haproxy`` executable (``executable``, ``PATH``, ``/usr/sbin``)."""
    return _find(executable, "PGMONKEY_HAPROXY", "haproxy")


def _clean_env() -> dict[str, str]:
    """The environment for Patroni: the system Python must not see this venv's packages."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _http(method: str, url: str, body: Mapping[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


@dataclass(eq=False)
class PatroniNode(ServerBase):
    """One PostgreSQL node of a :class:`PatroniCluster`, run by its own Patroni.

    It offers everything a :class:`~pgmonkey.testing.PostgresServer` does for connections
    (``config()``, ``connect()``, ``execute()``, ...), talking to this node only.

    Attributes:
        name: Patroni's member name (``node1``, ...).
        host: ``127.0.0.1``.
        port: PostgreSQL's port.
        rest_port: The port of Patroni's REST API.
        workdir: The node's directory (Patroni configuration, data directory, logs).
    """

    name: str
    host: str
    port: int
    rest_port: int
    workdir: Path
    password: str = _PASSWORD
    superuser: str = "postgres"
    roles: dict[str, str | None] = field(default_factory=dict, repr=False)
    process: Supervised | None = field(default=None, repr=False)

    def _superuser_password(self) -> str | None:
        return self.password

    def _tcp_params(self, *, ssl: bool | None, user: str, password: str | None) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "sslmode": "disable"}

    def _socket_host(self) -> str:
        return str(self.workdir)

    @property
    def data_dir(self) -> Path:
        """PostgreSQL's data directory."""
        return self.workdir / "data"

    @property
    def config_file(self) -> Path:
        """The node's ``patroni.yml``."""
        return self.workdir / "patroni.yml"

    @property
    def rest_url(self) -> str:
        """The base URL of its REST API."""
        return f"http://{LOOPBACK}:{self.rest_port}"

    def api(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Call Patroni's REST API on this node and return the decoded JSON body."""
        status, payload = _http(method, self.rest_url + path, body)
        if status >= 400:
            raise TestServerError(f"{method} {path} on {self.name}: HTTP {status}: {payload}")
        return payload

    def postmaster_pid(self) -> int | None:
        """The pid of this node's postmaster, or ``None`` when PostgreSQL is not running."""
        return postmaster_pid(self.data_dir)

    def kill_postgres(self) -> int:
        """``kill -9`` this node's PostgreSQL (postmaster and backends); return the postmaster pid.

        Patroni keeps running (and restarts it, or lets a replica take over). Backends are
        killed too: a backend whose postmaster died alone would go on serving its client.
        """
        pid = kill_postmaster(self.data_dir, with_children=True)
        if pid is None:
            raise TestServerError(f"PostgreSQL is not running on {self.name}")
        return pid

    def lose(self) -> None:
        """Simulate losing the machine: ``kill -9`` Patroni, the postmaster and its backends."""
        if self.process is not None:
            self.process.kill()
        kill_postmaster(self.data_dir, with_children=True)

    def stop(self) -> None:
        """Stop Patroni gracefully (it shuts PostgreSQL down and hands over leadership)."""
        if self.process is not None:
            self.process.stop()

    def start(self) -> None:
        """Start this node's Patroni (again); it rejoins the cluster as a replica."""
        if self.process is None:
            raise TestServerError(f"{self.name} has no process")
        self.process.start()

    def log_tail(self, lines: int = 40) -> str:
        """The end of Patroni's and PostgreSQL's log for this node."""
        return self.process.log_tail(lines) if self.process is not None else "(no process)"


@dataclass(eq=False)
class HAProxy:
    """HAProxy in front of a :class:`PatroniCluster`, checking each node's REST API.

    ``write_port`` forwards to the leader (``GET /primary`` answers 200 there only);
    ``read_port`` to the replicas (``GET /replica``), falling back to the leader when none is up.

    Attributes:
        host: ``127.0.0.1``.
        write_port: The port that reaches the leader.
        read_port: The port that reaches a replica.
    """

    host: str
    write_port: int
    read_port: int
    config_file: Path
    process: Supervised | None = field(default=None, repr=False)

    def close(self) -> None:
        """Stop HAProxy."""
        if self.process is not None:
            self.process.stop()


@dataclass(eq=False)
class PatroniCluster:
    """A running throwaway Patroni cluster started by :func:`start_patroni_cluster`.

    Attributes:
        scope: Patroni's cluster name.
        workdir: The temporary directory holding everything.
        nodes: The PostgreSQL nodes, in order (``node1``, ``node2``, ...).
        etcd: The etcd members' client URLs.
        haproxy: HAProxy in front of the nodes, when started with ``haproxy=True``.
        timings: ``ttl``, ``loop_wait`` and ``retry_timeout``.
        dcs: How Patroni talks to etcd: ``etcd`` (the v2 protocol) or ``etcd3``.
        synchronous_mode: Whether Patroni's ``synchronous_mode`` is on.
    """

    scope: str
    workdir: Path
    nodes: list[PatroniNode]
    etcd: list[str]
    timings: dict[str, int]
    dcs: str = "etcd"
    synchronous_mode: bool = False
    haproxy: HAProxy | None = None
    patronictl_path: Path | None = None
    _etcd_processes: list[Supervised] = field(default_factory=list, repr=False)

    # -- state

    def members(self) -> list[dict[str, Any]]:
        """Patroni's view of the members (``GET /cluster`` on the first node that answers)."""
        last: Exception | None = None
        for node in self.nodes:
            try:
                payload = node.api("GET", "/cluster")
            except (OSError, TestServerError) as exc:
                last = exc
                continue
            members: list[dict[str, Any]] = payload.get("members", [])
            return members
        raise TestServerError(f"no Patroni REST API answers: {last}")

    def node(self, name: str) -> PatroniNode:
        """The node called ``name``."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise TestServerError(f"no node {name!r} in {[n.name for n in self.nodes]}")

    def leader(self) -> PatroniNode:
        """The node holding the leader key and running (raises if there is none)."""
        for member in self.members():
            if member.get("role") == "leader" and member.get("state") == "running":
                return self.node(member["name"])
        raise TestServerError("the cluster has no running leader")

    def replicas(self) -> list[PatroniNode]:
        """The nodes that are not the leader."""
        leader = self.leader()
        return [n for n in self.nodes if n is not leader]

    def healthy(self) -> bool:
        """One running leader, every other node a streaming replica, PostgreSQL up on all."""
        members = self.members()
        if len(members) != len(self.nodes):
            return False
        leaders = [m for m in members if m.get("role") == "leader" and m["state"] == "running"]
        others = [m for m in members if m.get("role") != "leader"]
        if len(leaders) != 1:
            return False
        if self.synchronous_mode and not any(m.get("role") == "sync_standby" for m in others):
            return False
        return all(m["state"] in ("running", "streaming") for m in others) and all(
            self.node(m["name"]).postmaster_pid() is not None for m in members
        )

    def wait_healthy(self, timeout: float = 90) -> PatroniNode:
        """Wait until :meth:`healthy`, restarting nodes whose Patroni is gone; return the leader.

        A node that cannot rejoin (its timeline diverged beyond ``pg_rewind``) is
        reinitialised from the leader.
        """
        for node in self.nodes:
            if node.process is not None and node.process.exited():
                node.start()
        deadline = time.monotonic() + timeout
        reinit_at = time.monotonic() + timeout / 3
        reinitialised = False
        while time.monotonic() < deadline:
            # A node may go down between two checks (a fault just injected): retry until then.
            with contextlib.suppress(Exception):
                if self.healthy():
                    self.wait_replicated()
                    return self.leader()
                if not reinitialised and time.monotonic() > reinit_at:
                    reinitialised = True
                    for member in self.members():
                        if member.get("state") not in ("running", "streaming"):
                            self.patronictl("reinit", self.scope, member["name"], "--force")
            time.sleep(0.2)
        tails = "\n".join(node.log_tail(15) for node in self.nodes)
        raise TestServerError(
            f"the Patroni cluster did not become healthy within {timeout:.0f} s: "
            f"{self._describe()}\n{tails}"
        )

    def wait_replicated(self, timeout: float = 30) -> None:
        """Wait until every replica has replayed what the leader has written so far."""
        leader = self.leader()
        lsn = leader.execute("SELECT pg_current_wal_lsn()::text")[0][0]

        def caught_up() -> bool:
            return all(
                n.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,))[0][0]
                for n in self.nodes
                if n is not leader
            )

        wait_until("the replicas did not catch up", caught_up, timeout)

    def _describe(self) -> str:
        try:
            return ", ".join(
                f"{m['name']}={m.get('role')}/{m.get('state')}" for m in self.members()
            )
        except TestServerError as exc:
            return str(exc)

    # -- operations

    def patronictl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``patronictl -c <node1's config> ARGS`` and return the completed process."""
        if self.patronictl_path is None:
            raise TestServerError("patronictl was not found next to patroni")
        result = subprocess.run(
            [str(self.patronictl_path), "-c", str(self.nodes[0].config_file), *args],
            capture_output=True,
            text=True,
            env=_clean_env(),
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise TestServerError(
                f"patronictl {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        return result

    def switchover(self, candidate: str | None = None) -> PatroniNode:
        """``patronictl switchover --force`` to ``candidate`` (any replica by default).

        Returns the new leader once it accepts writes.
        """
        old = self.leader()
        args = ["switchover", self.scope, "--leader", old.name, "--force"]
        if candidate is not None:
            args += ["--candidate", candidate]
        self.patronictl(*args)
        return self.wait_for_new_leader(old)

    def wait_for_new_leader(self, old: PatroniNode, timeout: float = 60) -> PatroniNode:
        """Wait until a node other than ``old`` is leader and accepts writes; return it."""
        found: list[PatroniNode] = []

        def new_leader_writable() -> bool:
            leader = self.leader()
            if leader is old or leader.execute("SELECT pg_is_in_recovery()")[0][0]:
                return False
            found.append(leader)
            return True

        wait_until("no new leader took over", new_leader_writable, timeout)
        return found[-1]

    def set_synchronous_mode(self, on: bool) -> None:
        """Turn Patroni's ``synchronous_mode`` on or off and wait until it applies."""
        self.leader().api("PATCH", "/config", {"synchronous_mode": on})
        self.synchronous_mode = on

        def applied() -> bool:
            names = self.leader().execute("SHOW synchronous_standby_names")[0][0]
            return bool(names) == on and self.healthy()

        wait_until(f"synchronous_mode={on} did not apply", applied, 60)

    # -- configurations

    def config(
        self,
        target_session_attrs: str = "read-write",
        *,
        connection_type: str = "normal",
        dbname: str = "postgres",
        user: str = "postgres",
        password: str | None = None,
        **connection_settings: Any,
    ) -> dict[str, Any]:
        """A pgmonkey configuration listing every node, for libpq to pick by role.

        Args:
            target_session_attrs: ``read-write`` for writes (the leader), ``prefer-standby``
                or ``standby`` for reads, ``any``...
            connection_type: The configuration's ``connection_type``.
            dbname: Database.
            user: Role (default: the superuser).
            password: Its password (default: the superuser's).
            **connection_settings: Extra or overriding ``connection_settings`` entries.
        """
        settings: dict[str, Any] = {
            "user": user,
            "password": password if password is not None else _PASSWORD,
            "host": ",".join(n.host for n in self.nodes),
            "port": ",".join(str(n.port) for n in self.nodes),
            "dbname": dbname,
            "sslmode": "disable",
            "target_session_attrs": target_session_attrs,
            "connect_timeout": 2,
            "application_name": "pgmonkey-tests",
        }
        settings.update(connection_settings)
        return wrap_connection_settings(settings, connection_type)

    def haproxy_config(
        self,
        role: str = "primary",
        *,
        connection_type: str = "normal",
        dbname: str = "postgres",
        **connection_settings: Any,
    ) -> dict[str, Any]:
        """A pgmonkey configuration through HAProxy: ``role`` is ``primary`` or ``replica``."""
        if self.haproxy is None:
            raise TestServerError("start the cluster with haproxy=True")
        port = self.haproxy.write_port if role == "primary" else self.haproxy.read_port
        settings: dict[str, Any] = {
            "user": "postgres",
            "password": _PASSWORD,
            "host": self.haproxy.host,
            "port": port,
            "dbname": dbname,
            "sslmode": "disable",
            "connect_timeout": 2,
            "application_name": "pgmonkey-tests",
        }
        settings.update(connection_settings)
        return wrap_connection_settings(settings, connection_type)

    def execute(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run one statement on the leader as the superuser (autocommit)."""
        return self.leader().execute(query, params)

    # -- life cycle

    def close(self) -> None:
        """Stop HAProxy, every Patroni (and so PostgreSQL), etcd; delete the directory."""
        unregister(self)
        if self.haproxy is not None:
            self.haproxy.close()
        for node in self.nodes:  # SIGTERM all at once: each waits for its own shutdown
            if node.process is not None:
                node.process.signal_stop()
        for node in self.nodes:
            if node.process is not None:
                node.process.stop()
        for process in self._etcd_processes:
            process.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PatroniCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _etcd_processes(
    executable: Path, workdir: Path, members: int, account: tuple[int, int] | None, v2: bool
) -> tuple[list[Supervised], list[str]]:
    peers = {f"etcd{i}": (free_port(), free_port()) for i in range(members)}
    initial = ",".join(f"{name}=http://{LOOPBACK}:{peer}" for name, (_, peer) in peers.items())
    processes, urls = [], []
    for name, (client, peer) in peers.items():
        data = workdir / name
        data.mkdir(mode=0o700)
        if account is not None:
            os.chown(data, *account)
        url = f"http://{LOOPBACK}:{client}"
        argv = [
            str(executable),
            f"--name={name}",
            f"--data-dir={data}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls=http://{LOOPBACK}:{peer}",
            f"--initial-advertise-peer-urls=http://{LOOPBACK}:{peer}",
            f"--initial-cluster={initial}",
            "--initial-cluster-state=new",
            f"--initial-cluster-token={workdir.name}",
            "--heartbeat-interval=100",
            "--election-timeout=1000",
        ]
        if v2:
            argv.append("--enable-v2=true")
        processes.append(
            Supervised(f"etcd {name}", argv, workdir / f"{name}.log", workdir, account, None)
        )
        urls.append(url)
    return processes, urls


def _patroni_config(
    cluster: PatroniCluster, node: PatroniNode, bindir: Path, settings: Mapping[str, object]
) -> dict[str, Any]:
    parameters: dict[str, object] = {
        "unix_socket_directories": str(node.workdir),
        "password_encryption": "scram-sha-256",
        "fsync": "off",
        "shared_buffers": "32MB",
        "max_connections": 100,
        "wal_keep_size": "128MB",
        "wal_log_hints": "on",
        "checkpoint_timeout": "30min",
    }
    parameters.update(settings)
    replication_user, replication_password = _REPLICATION
    return {
        "scope": cluster.scope,
        "name": node.name,
        "log": {"level": os.environ.get("PGMONKEY_PATRONI_LOG_LEVEL", "INFO")},
        "restapi": {
            "listen": f"{LOOPBACK}:{node.rest_port}",
            "connect_address": f"{LOOPBACK}:{node.rest_port}",
        },
        cluster.dcs: {"hosts": [u.removeprefix("http://") for u in cluster.etcd]},
        "bootstrap": {
            "dcs": {
                **cluster.timings,
                "maximum_lag_on_failover": 16 * 1024 * 1024,
                "synchronous_mode": cluster.synchronous_mode,
                "postgresql": {"use_pg_rewind": True, "use_slots": True},
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C"}],
            "pg_hba": [
                "local all all trust",
                "local replication all trust",
                f"host replication {replication_user} {LOOPBACK}/32 scram-sha-256",
                f"host all all {LOOPBACK}/32 scram-sha-256",
            ],
        },
        "postgresql": {
            "listen": f"{LOOPBACK}:{node.port}",
            "connect_address": f"{LOOPBACK}:{node.port}",
            "use_unix_socket": True,
            "data_dir": str(node.data_dir),
            "bin_dir": str(bindir),
            "pgpass": str(node.workdir / "pgpass"),
            "authentication": {
                "superuser": {"username": node.superuser, "password": node.password},
                "replication": {"username": replication_user, "password": replication_password},
                "rewind": {"username": node.superuser, "password": node.password},
            },
            "parameters": parameters,
        },
        "tags": {"nofailover": False, "noloadbalance": False},
    }


def _haproxy_text(cluster: PatroniCluster, write_port: int, read_port: int) -> str:
    def backend(name: str, port: int, check: str, backup_leader: bool) -> list[str]:
        lines = [
            f"listen {name}",
            f"    bind {LOOPBACK}:{port}",
            f"    option httpchk GET {check}",
            "    http-check expect status 200",
            "    default-server inter 300ms fall 2 rise 1 on-marked-down shutdown-sessions",
        ]
        for node in cluster.nodes:
            lines.append(
                f"    server {node.name} {node.host}:{node.port} check port {node.rest_port}"
            )
        if backup_leader:
            lines.append("    option allbackups")
        return lines

    return "\n".join(
        [
            "global",
            "    maxconn 500",
            "defaults",
            "    mode tcp",
            "    timeout connect 2s",
            "    timeout client 30m",
            "    timeout server 30m",
            "    timeout check 1s",
            *backend("primary", write_port, "/primary", False),
            *backend("replicas", read_port, "/replica", True),
            "",
        ]
    )


def start_patroni_cluster(
    nodes: int = 3,
    *,
    etcd_members: int = 1,
    dcs: str = "etcd",
    synchronous_mode: bool = False,
    timings: Mapping[str, int] | None = None,
    settings: Mapping[str, object] | None = None,
    haproxy: bool = False,
    bindir: str | os.PathLike[str] | None = None,
    patroni: str | os.PathLike[str] | None = None,
    etcd: str | os.PathLike[str] | None = None,
    timeout: float = 120,
) -> PatroniCluster:
    """Start etcd, ``nodes`` PostgreSQL nodes under Patroni, and optionally HAProxy.

    Returns once one node leads, every other one streams from it, and (with ``haproxy``)
    HAProxy reaches the leader. Close it (or use ``with``): every process stops and the
    directory is deleted, also when the test process is killed.

    Args:
        nodes: PostgreSQL nodes (each with its own Patroni).
        etcd_members: 1 or 3 etcd members.
        dcs: ``etcd`` (Patroni over etcd's v2 protocol, which etcd 3.4 serves with
            ``--enable-v2``; needs python-etcd, a dependency of Debian's ``patroni``) or
            ``etcd3`` (the v3 protocol, for etcd 3.5 and newer).
        synchronous_mode: Patroni's ``synchronous_mode`` (a commit returns once a
            synchronous standby has it; see :meth:`PatroniCluster.set_synchronous_mode`).
        timings: ``ttl``, ``loop_wait``, ``retry_timeout``; default 4, 1, 1 (5, 1, 2 with
            ``etcd3``), which settle a failover within seconds. Patroni's defaults are 30, 10,
            10.
        settings: Extra ``postgresql.conf`` parameters.
        haproxy: Also start HAProxy (see :class:`HAProxy`).
        bindir: PostgreSQL's server binaries (found as for ``start_server`` by default).
        patroni: The ``patroni`` executable (``PGMONKEY_PATRONI``, ``PATH`` by default).
        etcd: The ``etcd`` executable (``PGMONKEY_ETCD``, ``PATH`` by default).
        timeout: How long to wait for the cluster to become healthy.

    Raises:
        TestServerError: A component is missing, or the cluster did not come up.
    """
    if dcs not in _DCS_PROTOCOLS:
        raise TestServerError(f"dcs must be one of {_DCS_PROTOCOLS}, not {dcs!r}")
    if etcd_members not in (1, 3):
        raise TestServerError(f"etcd_members must be 1 or 3, not {etcd_members}")
    if nodes < 1:
        raise TestServerError(f"nodes must be at least 1, not {nodes}")
    patroni_path = find_patroni(patroni)
    etcd_path = find_etcd(etcd)
    haproxy_path = find_haproxy() if haproxy else None
    missing = [
        name for name, path in (("patroni", patroni_path), ("etcd", etcd_path)) if path is None
    ]
    if haproxy and haproxy_path is None:
        missing.append("haproxy")
    if missing or patroni_path is None or etcd_path is None:
        raise TestServerError(
            f"{', '.join(missing)} not found (Debian/Ubuntu: apt-get install patroni "
            f"etcd-server haproxy; or set {ENV_PATRONI} / {ENV_ETCD})"
        )
    chosen = dict(FAST_TIMINGS[dcs] if timings is None else timings)
    if chosen["loop_wait"] + 2 * chosen["retry_timeout"] > chosen["ttl"]:
        raise TestServerError(f"Patroni needs loop_wait + 2 * retry_timeout <= ttl, got {chosen}")
    found_bindir = find_bindir(bindir)
    account_info = ServerAccount.for_server()
    account = account_info.ids if account_info is not None else None
    workdir = Path(tempfile.mkdtemp(prefix="pgmonkey-patroni-"))
    os.chmod(workdir, 0o755)  # noqa: S103 - the server account works inside
    if account is not None:
        os.chown(workdir, *account)
    etcd_processes, urls = _etcd_processes(
        etcd_path, workdir, etcd_members, account, v2=dcs == "etcd"
    )
    ctl: Path | None = patroni_path.with_name("patronictl")
    if ctl is None or not os.access(ctl, os.X_OK):
        ctl = find_patroni(shutil.which("patronictl"))  # any executable: the same check
    cluster = PatroniCluster(
        scope=f"pgmonkey-{workdir.name[-8:]}",
        workdir=workdir,
        nodes=[],
        etcd=urls,
        timings=chosen,
        dcs=dcs,
        synchronous_mode=synchronous_mode,
        patronictl_path=ctl,
        _etcd_processes=etcd_processes,
    )
    register(cluster)
    try:
        for i in range(1, nodes + 1):
            node_dir = workdir / f"node{i}"
            node_dir.mkdir(mode=0o700)
            node = PatroniNode(
                name=f"node{i}",
                host=LOOPBACK,
                port=free_port(),
                rest_port=free_port(),
                workdir=node_dir,
            )
            text = yaml.safe_dump(
                _patroni_config(cluster, node, found_bindir, settings or {}), sort_keys=False
            )
            node.config_file.write_text(text)
            os.chmod(node.config_file, 0o600)
            if account is not None:
                account_info.give(node_dir)  # type: ignore[union-attr]
            node.process = Supervised(
                f"patroni {node.name}",
                [str(patroni_path), str(node.config_file)],
                node_dir / "patroni.log",
                node_dir,
                account,
                _clean_env(),
                data_dirs=[node.data_dir],
            )
            cluster.nodes.append(node)
        # The first etcd's watchdog also deletes the directory, once every process is gone.
        etcd_processes[0].remove = workdir
        etcd_processes[0].data_dirs = [node.data_dir for node in cluster.nodes]
        for process in etcd_processes:
            process.start()
        wait_until(
            "etcd did not answer",
            lambda: all(_http("GET", f"{u}/health")[0] == 200 for u in urls),
            30,
        )
        cluster.nodes[0].start()  # the first one bootstraps; the others clone it
        wait_until("node1 did not bootstrap", cluster.leader, timeout)
        for node in cluster.nodes[1:]:
            node.start()
        cluster.wait_healthy(timeout)
        if haproxy:
            assert haproxy_path is not None
            cluster.haproxy = _start_haproxy(cluster, haproxy_path, account)
    except BaseException:
        cluster.close()
        raise
    return cluster


def _start_haproxy(
    cluster: PatroniCluster, executable: Path, account: tuple[int, int] | None
) -> HAProxy:
    write_port, read_port = free_port(), free_port()
    config_file = cluster.workdir / "haproxy.cfg"
    config_file.write_text(_haproxy_text(cluster, write_port, read_port))
    proxy = HAProxy(LOOPBACK, write_port, read_port, config_file)
    proxy.process = Supervised(
        "haproxy",
        [str(executable), "-db", "-f", str(config_file)],
        cluster.workdir / "haproxy.log",
        cluster.workdir,
        account,
        None,
    )
    proxy.process.start()
    leader = cluster.leader()

    def reaches_leader() -> bool:
        proxy.process.check_running()  # type: ignore[union-attr]
        import psycopg

        conninfo = (
            f"host={LOOPBACK} port={write_port} user=postgres password={_PASSWORD} "
            "dbname=postgres sslmode=disable connect_timeout=2"
        )
        with psycopg.connect(conninfo) as conn:
            row = conn.execute("SELECT inet_server_port()").fetchone()
        return row is not None and row[0] == leader.port

    wait_until("HAProxy did not reach the leader", reaches_leader, 30)
    return proxy
