"""Writes on the primary (config.yaml), reads on a replica (replica.yaml)."""

from flask import Flask

from pgmonkey_flask import PGMonkey

pg = PGMonkey()
app = Flask(__name__)
app.config.update(
    PGMONKEY_CONFIG="config.yaml",  # the primary: the "default" database
    PGMONKEY_DATABASES={"replica": "replica.yaml"},  # e.g. target_session_attrs: prefer-standby
    PGMONKEY_COMMIT_MODE="autocommit",  # commit after a 2xx response
)
pg.init_app(app)


@app.post("/notes/<text>")
def add_note(text):
    pg.connection().execute("INSERT INTO notes (text) VALUES (%s)", [text])
    return {"ok": True}, 201


@app.get("/notes")
def list_notes():
    rows = pg.connection("replica").execute("SELECT text FROM notes ORDER BY id").fetchall()
    return {"notes": [text for (text,) in rows]}


if __name__ == "__main__":
    with app.app_context(), pg.transaction() as conn:
        conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, text text)")
    client = app.test_client()
    print(client.post("/notes/hello").status_code)
    print(client.get("/notes").json)  # a real standby may lag behind for a moment
    pg.close(app)
