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


def describe_versions() -> tuple[str, list[str]]:
    """Return one line per installed distribution and the libpq version, and warnings.

    The warnings name an installation problem (the old ``pgmonkey`` distribution next to
    pgmonkey-core, missing files, no libpq wrapper) and the command that fixes it.
    """
    lines = []
    for name in ("pgmonkey", *DISTRIBUTIONS):
        try:
            lines.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    from pgmonkey_cli._install import diagnose, psycopg_problem

    diagnosis = diagnose()
    warnings = [] if diagnosis is None else [diagnosis]
    try:
        import psycopg
    except ImportError:
        problem = psycopg_problem() if diagnosis is None else None
        lines.append("libpq unavailable (no libpq wrapper could be loaded)")
        warnings += [] if problem is None else [str(problem)]
    else:
        libpq = psycopg.pq.version()
        impl = psycopg.pq.__impl__
        lines.append(f"libpq {libpq // 10000}.{libpq % 10000} ({impl} implementation)")
    return "\n".join(lines), warnings
