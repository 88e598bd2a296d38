"""WSGI entry point for gunicorn.

With ``PGMONKEY_DJANGO_CONNECT_AT_IMPORT=1`` the master process opens a database connection
(and Django's pool) while loading the app, as many real projects do by accident under
``--preload``: only fork safety keeps the workers from sharing it (Django ticket #36957).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.ext_django.project.settings")
application = get_wsgi_application()

if os.environ.get("PGMONKEY_DJANGO_CONNECT_AT_IMPORT") == "1":
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        master_backend = cursor.fetchone()[0]
    if os.environ.get("PGMONKEY_DJANGO_MASTER_BACKEND_FILE"):
        with open(os.environ["PGMONKEY_DJANGO_MASTER_BACKEND_FILE"], "w") as fh:
            fh.write(str(master_backend))
