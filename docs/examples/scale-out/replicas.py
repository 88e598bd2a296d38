"""Route connections to a primary or a standby with libpq's multi-host support."""

import copy

from pgmonkey.connections import connect
from pgmonkey.testing import start_server


def with_hosts(cfg, servers, target_session_attrs):
    """The configuration, listing every server and asking libpq for a kind of session."""
    cfg = copy.deepcopy(cfg)
    settings = cfg["connection_settings"]
    settings["host"] = ",".join(s.host for s in servers)
    settings["port"] = ",".join(str(s.port) for s in servers)
    settings["target_session_attrs"] = target_session_attrs
    return cfg


with start_server(replication=True) as primary:
    primary.execute("CREATE TABLE t (x int)")
    standby = primary.start_standby()
    standby.wait_for_replay()
    servers = [standby, primary]  # the standby first, on purpose
    base = primary.config()

    for attrs in ("read-write", "prefer-standby"):
        with connect(with_hosts(base, servers, attrs)) as conn:
            in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
            print(f"{attrs}: connected to the {'standby' if in_recovery else 'primary'}")

    # Failover: the primary goes away and the standby is promoted.
    primary.stop()
    standby.promote()
    with connect(with_hosts(base, servers, "read-write")) as conn:
        conn.execute("INSERT INTO t VALUES (1)")
        promoted = conn.info.port == standby.port
        print("read-write after failover:", "the promoted standby" if promoted else "?")
    standby.close()
