"""pgmonkey-fastapi: lifespan-managed pgmonkey pools and psycopg connections through ``Depends``.

Example:
    >>> from typing import Annotated
    >>> from fastapi import Depends, FastAPI
    >>> from psycopg import AsyncConnection
    >>> from psycopg.rows import TupleRow
    >>> from pgmonkey_fastapi import PGMonkeyFastAPI
    >>> pg = PGMonkeyFastAPI("config/pg.yaml")
    >>> app = FastAPI()
    >>> pg.init_app(app)  # or FastAPI(lifespan=pg.lifespan)
    >>> Conn = Annotated[AsyncConnection[TupleRow], Depends(pg.connection)]
    >>> Tx = Annotated[AsyncConnection[TupleRow], pg.depends_transaction()]

When the COMMIT of ``Depends(pg.transaction)`` runs, by FastAPI version:

=================  =================================  ====================================
FastAPI            plain ``Depends(pg.transaction)``  ``pg.init_app(app)``, or
                                                      ``scope="function"`` (>= 0.121)
=================  =================================  ====================================
0.95 - 0.105       after the response is sent         before the response
0.106 - 0.117      before the response                before the response
0.118 - 0.120      after the response is sent         before the response (init_app)
>= 0.121           after the response is sent         before the response
=================  =================================  ====================================

``health_router(pg)`` serves ``/healthz`` and ``/readyz`` (see :mod:`pgmonkey.health`).

"After the response" means a failing COMMIT (a deferred constraint, a serialization
failure) is only logged while the client already got its 200.
"""

# First: without a libpq wrapper this raises pgmonkey.PsycopgUnavailableError, which says
# what to install, instead of psycopg's bare ImportError from the modules below.
import pgmonkey.connections  # noqa: F401
from pgmonkey_fastapi._errors import PGMonkeyFastAPIError
from pgmonkey_fastapi._extension import PGMonkeyFastAPI
from pgmonkey_fastapi._health import health_router
from pgmonkey_fastapi._middleware import CommitBeforeResponseMiddleware
from pgmonkey_fastapi._registry import PinnedPool, PoolRegistry
from pgmonkey_fastapi._version import __version__

__all__ = [
    "CommitBeforeResponseMiddleware",
    "PGMonkeyFastAPI",
    "PGMonkeyFastAPIError",
    "PinnedPool",
    "PoolRegistry",
    "__version__",
    "health_router",
]
