"""The optional ``pgmonkey_django`` app: checks, ``pgmonkey_check``, fork safety, clean exit."""

from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class PgMonkeyConfig(AppConfig):
    """Add ``"pgmonkey_django"`` to ``INSTALLED_APPS`` to enable the checks and command.

    Settings: ``PGMONKEY = {"FORK_SAFETY": True}`` (the default) installs
    :func:`pgmonkey_django.install_fork_safety` when the app is ready, and
    ``PGMONKEY = {"CLOSE_AT_EXIT": True}`` (the default) calls
    :func:`pgmonkey_django.close_connections_at_exit`.
    """

    name = "pgmonkey_django"
    label = "pgmonkey"
    verbose_name = "pgmonkey"
    default = True

    def ready(self) -> None:
        """Register the system checks and, unless disabled, fork safety and clean exit."""
        from pgmonkey_django import checks  # noqa: F401  (registers the checks)
        from pgmonkey_django._exit import close_connections_at_exit
        from pgmonkey_django._fork import install_fork_safety

        options = getattr(settings, "PGMONKEY", None) or {}
        if options.get("FORK_SAFETY", True):
            install_fork_safety()
        if options.get("CLOSE_AT_EXIT", True):
            close_connections_at_exit()
