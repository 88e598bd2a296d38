"""Settings of the test project.

``PGMONKEY_DJANGO_YAML_DIR`` names a directory holding ``default.yaml`` (written by the
tests' conftest or the load test). ``PGMONKEY_DJANGO_FORK_SAFETY=0`` turns the app's
automatic fork safety off.
"""

import os
from pathlib import Path

from pgmonkey_django import databases

YAML_DIR = Path(os.environ["PGMONKEY_DJANGO_YAML_DIR"])

SECRET_KEY = "pgmonkey-django-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "tests.ext_django.project.urls"
INSTALLED_APPS = ["pgmonkey_django", "tests.ext_django.project"]
MIDDLEWARE: list[str] = []
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PGMONKEY = {"FORK_SAFETY": os.environ.get("PGMONKEY_DJANGO_FORK_SAFETY", "1") == "1"}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"django.request": {"level": "CRITICAL"}},
}

DATABASES = databases(
    {
        # Pooled where Django can (the YAML says connection_type: pool), with atomic requests.
        "default": (YAML_DIR / "default.yaml", {"atomic_requests": True}),
        # The same database through persistent connections.
        "persistent": (YAML_DIR / "default.yaml", {"pool": False, "conn_max_age": 60}),
        # Used to create and destroy a test database the way Django's test runner does.
        "creation": YAML_DIR / "default.yaml",
        # Nothing listens there.
        "broken": (YAML_DIR / "broken.yaml", {"pool": False}),
    }
)
