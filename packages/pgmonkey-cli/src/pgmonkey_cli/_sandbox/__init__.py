"""``pgmonkey sandbox``: a persistent local PostgreSQL built from a pgmonkey YAML file.

A sandbox is a PostgreSQL cluster in a per-user data directory (``platformdirs``), one per
configuration file, that listens where the file says (``127.0.0.1``, ``localhost``, ``::1``
or a unix-socket directory, on its ``port``) and holds the file's role (a superuser, like the
official Docker image's ``POSTGRES_USER``, with the file's password, scram-sha-256) and
database. It keeps running after the command exits and keeps its data across restarts until
``pgmonkey sandbox destroy``. The server binaries are found like :mod:`pgmonkey.testing`
finds them, and as root the server runs as the same unprivileged account.

Modules: :mod:`._spec` (what a configuration asks for), :mod:`._paths` (where sandboxes
live), :mod:`._cluster` (create, start, stop, destroy) and :mod:`._run` (the command
handlers and their output).
"""
