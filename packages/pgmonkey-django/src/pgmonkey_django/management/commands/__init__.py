"""``manage.py pgmonkey_check``."""
