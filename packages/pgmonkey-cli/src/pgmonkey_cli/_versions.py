"""``pgmonkey --version``: the installed pgmonkey distributions, psycopg and libpq."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTIONS = (
    "pgmonkey-core",
    "pgmonkey-cli",
    "pgmonkey-flask",
    "pgmonkey-fastapi",
    "pgmonkey-django",
    "psycopg",
    "psycopg-pool",
)


def describe_versions() -> str:
    """Return one line per installed distribution, then the libpq version."""
    lines = []
    for name in DISTRIBUTIONS:
        try:
            lines.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    import psycopg

    libpq = psycopg.pq.version()
    lines.append(f"libpq {libpq // 10000}.{libpq % 10000} ({psycopg.pq.__impl__} implementation)")
    return "\n".join(lines)
