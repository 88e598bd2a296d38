"""Start a throwaway PostgreSQL server, use it, and have it removed."""

from pgmonkey.testing import start_server

with start_server(settings={"max_connections": 50}) as server:
    print(server.execute("SELECT version()")[0][0].split(",")[0])

    server.create_database("scratch")
    cfg = server.config(dbname="scratch")  # a ready pgmonkey configuration dict
    print("connects to", cfg["connection_settings"]["dbname"], "on port", server.port)

    with server.connect() as conn:  # a psycopg connection (superuser, autocommit)
        conn.execute("SELECT 1")

    server.execute("CREATE TABLE public.t (id int, name text)")  # in the default database
    server.execute("INSERT INTO public.t VALUES (1, 'one')")
    print("rows:", server.execute("SELECT id, name FROM public.t"))
# The server is stopped and its files are deleted here.
