"""The one definition of a *sensitive* configuration key.

Interpolation (which refuses ``${VAR:-default}`` for such keys) and redaction (which masks
their values) both ask :func:`is_sensitive_key`, so the two can never disagree.
"""

from __future__ import annotations

__all__ = ["SENSITIVE_KEYS", "SENSITIVE_SUBSTRINGS", "is_sensitive_key"]

#: Keys that are sensitive by exact (case-insensitive) name.
SENSITIVE_KEYS: frozenset[str] = frozenset(
    {
        "password",
        "sslkey",
        "sslcert",
        "sslrootcert",
        "sslpassword",
        "passwd",
        "pwd",
        "scram_client_key",
        "scram_server_key",
    }
)

#: A key is also sensitive when its lower-cased name contains one of these.
SENSITIVE_SUBSTRINGS: tuple[str, ...] = (
    "password",
    "passwd",
    "token",
    "secret",
    "credential",
    "private_key",
    "api_key",
    "apikey",
)


def is_sensitive_key(key: object) -> bool:
    """Tell whether values stored under ``key`` must be treated as secrets.

    A key is sensitive when its lower-cased name is one of :data:`SENSITIVE_KEYS`
    (``password``, ``sslkey``, ``sslcert``, ``sslrootcert``, ``sslpassword``, ...) or contains
    one of :data:`SENSITIVE_SUBSTRINGS` (``token``, ``secret``, ``credential``, ``password``,
    ...). Keys that are not strings are never sensitive.

    Args:
        key: A mapping key from a configuration.

    Returns:
        ``True`` for a sensitive key.
    """
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    return lowered in SENSITIVE_KEYS or any(s in lowered for s in SENSITIVE_SUBSTRINGS)
