"""settings.py with two database aliases, each from its own YAML file."""

from pathlib import Path

from pgmonkey_django import databases

BASE_DIR = Path(__file__).resolve().parent

DATABASES = databases(
    {
        "default": BASE_DIR / "config.yaml",
        "replica": (BASE_DIR / "replica.yaml", {"pool": False, "conn_max_age": 60}),
    }
)
