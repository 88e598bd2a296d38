"""/healthz and /readyz for a Flask app whose database is described by config.yaml."""

from flask import Flask

from pgmonkey_flask import PGMonkey, health_blueprint

pg = PGMonkey()
app = Flask(__name__)
app.config["PGMONKEY_CONFIG"] = "config.yaml"
pg.init_app(app)
# GET /healthz: the process answers; GET /readyz: SELECT 1 through the pool within 2 s.
app.register_blueprint(health_blueprint(pg, database="default", timeout=2.0))


if __name__ == "__main__":
    client = app.test_client()
    print(client.get("/healthz").status_code, client.get("/healthz").json)
    ready = client.get("/readyz")
    print(ready.status_code, ready.json["status"], ready.json["pool"]["pool_max"])
    pg.close(app)
