"""settings.py of a Django project whose database is described by config.yaml."""

from pathlib import Path

from pgmonkey_django import database_config

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "change-me"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "pgmonkey_django",  # optional: system checks, manage.py pgmonkey_check, fork safety
]

DATABASES = {
    "default": database_config(
        BASE_DIR / "config.yaml",
        # Django's pool needs Django >= 5.1; "auto" pools when connection_type is a pool type.
        pool="auto",
        # Extra session settings on top of the file's sync_settings:
        options={"options": "-c statement_timeout=5s"},
    ),
}
