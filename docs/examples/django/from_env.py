"""settings.py that reads the pgmonkey file named by $PGMONKEY_CONFIG, as dj-database-url does."""

from pathlib import Path

import pgmonkey_django

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "change-me"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes"]

# The file named by $PGMONKEY_CONFIG; without that variable, pgmonkey.yaml beside settings.py.
DATABASES = {"default": pgmonkey_django.config(default=BASE_DIR / "pgmonkey.yaml")}
