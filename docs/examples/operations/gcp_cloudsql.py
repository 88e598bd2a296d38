"""Cloud SQL for PostgreSQL with IAM database authentication: an OAuth token per connection.

Name it in the YAML file (this module on the application's import path)::

    connection_settings:
      host: 10.20.30.40           # the instance's IP, or 127.0.0.1 behind the Auth Proxy
      user: my-app@my-project.iam  # the service account, without .gserviceaccount.com
      dbname: app
      sslmode: require
      credential_provider: gcp_cloudsql:iam_token

``pip install google-auth requests``. ``google.auth.default()`` finds the attached service
account (GKE workload identity, Cloud Run, GCE) or the developer's application-default
login. Tokens last an hour; this provider refreshes one only when it has expired.
"""

import functools
import threading
from collections.abc import Mapping
from typing import Any

#: The scope Cloud SQL IAM logins need.
SCOPES = ["https://www.googleapis.com/auth/sqlservice.login"]
_refresh_lock = threading.Lock()


@functools.cache
def credentials() -> Any:
    """The application-default credentials, loaded once per process."""
    import google.auth

    found, _project = google.auth.default(scopes=SCOPES)
    return found


def iam_token(settings: Mapping[str, Any]) -> str:
    """The credential provider: a valid OAuth access token, sent as the password."""
    creds = credentials()
    with _refresh_lock:  # pool workers are threads: refresh once, not once per thread
        if not creds.valid:
            from google.auth.transport.requests import Request

            creds.refresh(Request())
        return str(creds.token)
