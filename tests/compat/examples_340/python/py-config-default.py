# Origin: pgmonkey 3.4.0 README.md (the PyPI long description, sdist pgmonkey-3.4.0.tar.gz),
# section "Using the Config File Default" (the fragment, with its manager; plus one query).
# id: py-config-default
from pgmonkey import PGConnectionManager

manager = PGConnectionManager()
# Uses whatever connection_type is set in config.yaml (defaults to 'normal')
connection = manager.get_database_connection('config.yaml')
with connection as conn:
    with conn.cursor() as cur:
        cur.execute('SELECT 1')
        print(cur.fetchone())
