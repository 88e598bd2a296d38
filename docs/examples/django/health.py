"""settings.py and urls.py in one: /healthz and /readyz for the "default" alias."""

from pathlib import Path

from django.urls import include, path

from pgmonkey_django import databases, health

BASE_DIR = Path(__file__).resolve().parent

DATABASES = databases({"default": BASE_DIR / "config.yaml"})
ROOT_URLCONF = "health"  # this module also holds the URL patterns
ALLOWED_HOSTS = ["testserver", "localhost"]
SECRET_KEY = "an example only"

urlpatterns = [
    path("", include("pgmonkey_django.urls")),  # /healthz, and /readyz for "default"
    # Another alias or timeout: pass them to the view.
    path("ops/readyz", health.readyz, {"database": "default", "timeout": 1.0}),
]
