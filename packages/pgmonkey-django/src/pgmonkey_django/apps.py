"""The optional ``pgmonkey_django`` app: system checks, ``pgmonkey_check``, fork safety."""

from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class PgMonkeyConfig(AppConfig):
    """Add ``"pgmonkey_django"`` to ``INSTALLED_APPS`` to enable the checks and command.

    Settings: ``PGMONKEY = {"FORK_SAFETY": True}`` (the default) installs
    :func:`pgmonkey_django.install_fork_safety` when the app is ready.
    """

    name = "pgmonkey_django"
    label = "pgmonkey"
    verbose_name = "pgmonkey"
    default = True

    def ready(self) -> None:
        """Register the system checks and, unless disabled, fork safety."""
        from pgmonkey_django import checks  # noqa: F401  (registers the checks)
        from pgmonkey_django._fork import install_fork_safety

        options = getattr(settings, "PGMONKEY", None) or {}
        if options.get("FORK_SAFETY", True):
            install_fork_safety()
