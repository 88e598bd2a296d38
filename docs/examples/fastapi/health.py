"""/healthz and /readyz for a FastAPI app whose database is described by config.yaml."""

from fastapi import FastAPI

from pgmonkey_fastapi import PGMonkeyFastAPI, health_router

pg = PGMonkeyFastAPI("config.yaml")
app = FastAPI()
pg.init_app(app)  # the pools open in the app's lifespan
# GET /healthz: the process answers; GET /readyz: SELECT 1 through the pool within 2 s.
app.include_router(health_router(pg, database="default", timeout=2.0))
