"""The one definition of a *sensitive* configuration key.

Interpolation (which refuses ``${VAR:-default}`` for such keys) and redaction (which masks
their values) both ask :func:`is_sensitive_key`, so the two can never disagree.
"""

from __future__ import annotations

__all__ = [
    "PATH_KEYS",
    "SENSITIVE_KEYS",
    "SENSITIVE_SUBSTRINGS",
    "is_secret_value_key",
    "is_sensitive_key",
]

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
        "pass",
        "scram_client_key",
        "scram_server_key",
    }
)

#: A key is also sensitive when its lower-cased name contains one of these.
SENSITIVE_SUBSTRINGS: tuple[str, ...] = (
    "password",
    "passwd",
    "passphrase",
    "token",
    "secret",
    "credential",
    "private_key",
    "api_key",
    "apikey",
)

#: Sensitive keys whose values name a file (a certificate or key) or a function (the
#: ``credential_provider``, sensitive by its name), not a secret: they are masked in a printed
#: configuration, but a message may name the file or function (to say what is wrong with it),
#: so their values are not searched for in free text.
PATH_KEYS: frozenset[str] = frozenset({"sslkey", "sslcert", "sslrootcert", "credential_provider"})


def is_sensitive_key(key: object) -> bool:
    """Tell whether values stored under ``key`` must be treated as secrets.

    A key is sensitive when its lower-cased name is one of :data:`SENSITIVE_KEYS`
    (``password``, ``pwd``, ``pass``, ``sslkey``, ``sslcert``, ``sslrootcert``, ``sslpassword``,
    ...) or contains one of :data:`SENSITIVE_SUBSTRINGS` (``password``, ``passphrase``,
    ``token``, ``secret``, ``credential``, ...). Keys that are not strings are never sensitive.
    The same rule decides which ``key=value`` pairs inside conninfo strings and URL query
    strings are masked.

    Args:
        key: A mapping key from a configuration.

    Returns:
        ``True`` for a sensitive key.
    """
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    return lowered in SENSITIVE_KEYS or any(s in lowered for s in SENSITIVE_SUBSTRINGS)


def is_secret_value_key(key: object) -> bool:
    """Tell whether the value stored under ``key`` is itself a secret.

    That is every sensitive key (:func:`is_sensitive_key`) except :data:`PATH_KEYS`, whose
    values are file names. These values are removed from any text pgmonkey shows
    (:func:`pgmonkey.config.redact_text`).

    Args:
        key: A mapping key from a configuration.

    Returns:
        ``True`` when the value is a secret.
    """
    return is_sensitive_key(key) and str(key).lower() not in PATH_KEYS
