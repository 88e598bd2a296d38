"""``path("", include("pgmonkey_django.urls"))`` serves ``/healthz`` and ``/readyz``.

The URL names are ``pgmonkey-healthz`` and ``pgmonkey-readyz``; ``readyz`` checks the
``default`` alias within 2 seconds (see :mod:`pgmonkey_django.health` to choose others).
"""

from __future__ import annotations

from django.urls import path

from pgmonkey_django.health import healthz, readyz

__all__ = ["urlpatterns"]

urlpatterns = [
    path("healthz", healthz, name="pgmonkey-healthz"),
    path("readyz", readyz, name="pgmonkey-readyz"),
]
