# Origin: pgmonkey 3.4.0 README.md (the PyPI long description, sdist pgmonkey-3.4.0.tar.gz),
# section "Standard YAML (Default)" (verbatim, plus one query to show it connects).
# config: cfg-standard
# id: py-standard
from pgmonkey import PGConnectionManager

manager = PGConnectionManager()
conn = manager.get_database_connection('config.yaml')

with conn as c:
    with c.cursor() as cur:
        cur.execute('SELECT 1')
        print(cur.fetchone())
