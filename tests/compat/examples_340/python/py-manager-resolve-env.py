# Origin: pgmonkey 3.4.0 README.md (the PyPI long description, sdist pgmonkey-3.4.0.tar.gz),
# section "Python API" (the manager block, plus one query).
# config: cfg-inline-env
# id: py-manager-resolve-env
from pgmonkey import PGConnectionManager

manager = PGConnectionManager()
conn = manager.get_database_connection('config.yaml', resolve_env=True)

with conn as c:
    with c.cursor() as cur:
        cur.execute('SELECT current_user = %s', ('postgres',))
        print(cur.fetchone())
