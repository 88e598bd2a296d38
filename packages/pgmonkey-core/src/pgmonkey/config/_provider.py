"""``connection_settings.credential_provider``: a ``module:function`` named in the YAML file.

The function is imported when the configuration is loaded (so a typo is a configuration error
naming the key and line) and called for each new physical connection (see
:mod:`pgmonkey.connections._credentials`).
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from typing import Any

__all__ = ["PROVIDER_PATTERN", "ProviderImportError", "load_provider"]

#: ``package.module:function`` (the function may be an attribute path: ``module:obj.method``).
PROVIDER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"  # noqa: E501
_SPEC = re.compile(PROVIDER_PATTERN)


class ProviderImportError(ValueError):
    """The provider named cannot be imported or is not callable (the reason, no key)."""


@functools.lru_cache(maxsize=64)
def load_provider(spec: str) -> Callable[..., Any]:
    """Import the callable ``spec`` names (``"package.module:function"``).

    Raises:
        ProviderImportError: ``spec`` is malformed, cannot be imported, or is not callable.
    """
    text = spec.strip()
    if not _SPEC.fullmatch(text):
        raise ProviderImportError(
            f"expected 'package.module:function' (found {text!r}): a module path, a colon, "
            "then the function's name"
        )
    module_name, _, attribute = text.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ProviderImportError(
            f"cannot import module {module_name!r} for credential provider {text!r}: {exc}"
        ) from None
    except Exception as exc:  # the module's own code failed while importing
        raise ProviderImportError(
            f"importing module {module_name!r} for credential provider {text!r} raised "
            f"{type(exc).__name__}"
        ) from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ProviderImportError(
                f"module {module_name!r} has no attribute {attribute!r} "
                f"(credential provider {text!r})"
            ) from None
    if not callable(target):
        raise ProviderImportError(
            f"credential provider {text!r} is a {type(target).__name__}, not a function"
        )
    return target  # type: ignore[no-any-return]
