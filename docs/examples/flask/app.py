"""A Flask app whose database is described by config.yaml."""

from flask import Flask, request

from pgmonkey_flask import PGMonkey

pg = PGMonkey()


def create_app(config_path: str = "config.yaml") -> Flask:
    app = Flask(__name__)
    app.config["PGMONKEY_CONFIG"] = config_path  # a path, or an already-loaded dict
    pg.init_app(app)

    @app.post("/notes")
    def add_note():
        with pg.transaction() as conn:  # commits when the block ends
            row = conn.execute(
                "INSERT INTO notes (text) VALUES (%s) RETURNING id", [request.json["text"]]
            ).fetchone()
        return {"id": row[0]}, 201

    @app.get("/notes")
    def list_notes():
        conn = pg.connection()  # borrowed for this request, given back at teardown
        rows = conn.execute("SELECT id, text FROM notes ORDER BY id").fetchall()
        return [{"id": id_, "text": text} for id_, text in rows]

    return app


if __name__ == "__main__":
    app = create_app()
    with app.app_context(), pg.transaction() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, text text)")
    client = app.test_client()
    print(client.post("/notes", json={"text": "hello"}).get_json())
    print(client.get("/notes").get_json())
    pg.close(app)
