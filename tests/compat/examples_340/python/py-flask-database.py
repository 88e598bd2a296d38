# Origin: pgmonkey 3.4.0 README.md (the PyPI long description, sdist pgmonkey-3.4.0.tar.gz),
# section "App-Level Pattern: Sync Database Class (Flask)". The class is verbatim; the Flask
# wiring is replaced by calling the route's query directly (Flask is not a pgmonkey
# dependency).
# setup: CREATE TABLE users (id int, name text); INSERT INTO users VALUES (1, 'ada'), (2, 'bob')
# check: SELECT id, name FROM users ORDER BY id
# id: py-flask-database
from pgmonkey import PGConnectionManager

class Database:
    def __init__(self, config_path):
        self.manager = PGConnectionManager()
        self.config_path = config_path
        # Pool is created on first call, cached thereafter
        self.pool = self.manager.get_database_connection(config_path, 'pool')

    def fetch_one(self, query, params=None):
        with self.pool as conn:
            with conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchone()

    def fetch_all(self, query, params=None):
        with self.pool as conn:
            with conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall()

    def execute(self, query, params=None):
        with self.pool as conn:
            with conn.cursor() as cur:
                cur.execute(query, params)

db = Database('config.yaml')
db.execute("INSERT INTO users VALUES (%s, %s)", (3, 'cy'))
rows = db.fetch_all('SELECT id, name FROM users ORDER BY id;')
print({'users': [{'id': r[0], 'name': r[1]} for r in rows]})
print(db.fetch_one('SELECT count(*) FROM users'))
