"""Azure Database for PostgreSQL with Microsoft Entra ID: an access token per new connection.

Name it in the YAML file (this module on the application's import path)::

    connection_settings:
      host: myserver.postgres.database.azure.com
      user: my-app-identity     # the Entra principal, created as a PostgreSQL role
      dbname: app
      sslmode: verify-full
      sslrootcert: /etc/ssl/certs/ca-certificates.crt
      credential_provider: azure_entra:entra_token

``pip install azure-identity``. ``DefaultAzureCredential`` finds a managed identity, a workload
identity or the developer's ``az login``; it caches the token (valid about an hour) and
refreshes it before it expires, so asking for it on each new connection costs nothing.
"""

import functools
from collections.abc import Mapping
from typing import Any

#: The scope of Azure Database for PostgreSQL tokens.
SCOPE = "https://ossrdbms-aad.database.windows.net/.default"


@functools.cache
def credential() -> Any:
    """One ``DefaultAzureCredential`` per process (thread-safe, caches tokens)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def entra_token(settings: Mapping[str, Any]) -> str:
    """The credential provider: a current Entra access token, sent as the password."""
    return str(credential().get_token(SCOPE).token)
