"""AWS RDS and Aurora IAM authentication: a fresh token as the password of each connection.

Use it with::

    connection_settings:
      host: mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com
      port: 5432
      user: app_iam
      dbname: app
      sslmode: verify-full
      sslrootcert: /etc/ssl/rds-global-bundle.pem
      credential_provider: pgmonkey.providers.aws:rds_iam_token

The token is signed locally by boto3 (``generate_db_auth_token``, no network call) with the
credentials boto3 finds (environment, profile, instance or task role) and is valid for 15
minutes; pgmonkey asks for a new one for each new connection, and a connection stays valid
after its token expires. RDS only accepts IAM tokens over SSL: set ``sslmode`` to
``verify-full`` with the RDS certificate bundle. Needs ``pip install "pgmonkey-core[aws]"``.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from typing import Any

from pgmonkey.errors import CredentialProviderError

try:
    import boto3  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'pgmonkey.providers.aws needs boto3: pip install "pgmonkey-core[aws]"'
    ) from exc

__all__ = ["rds_iam_token"]

_RDS_HOST = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.rds\.amazonaws\.com(?:\.cn)?$")


def _region(host: str) -> str:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        value = os.environ.get(name)
        if value:
            return value
    match = _RDS_HOST.search(host.lower())
    if match:
        return match.group(1)
    region = boto3.Session().region_name
    if region:
        return str(region)
    raise CredentialProviderError(
        f"pgmonkey.providers.aws:rds_iam_token cannot tell the AWS region of host {host!r}: "
        "set AWS_REGION (or a region in the AWS profile)"
    )


@functools.lru_cache(maxsize=16)
def _client(region: str) -> Any:
    # A session per client: boto3's default session is not safe to share between threads.
    return boto3.Session().client("rds", region_name=region)


def rds_iam_token(settings: Mapping[str, Any]) -> str:
    """An RDS IAM authentication token for ``host``, ``port`` and ``user`` of ``settings``.

    Args:
        settings: The connection's non-secret settings (pgmonkey passes them).

    Returns:
        The token, to be sent as the password (valid for 15 minutes).

    Raises:
        CredentialProviderError: ``host`` or ``user`` is missing, ``host`` lists several
            hosts, or the region cannot be told.
    """
    host = str(settings.get("host") or "")
    user = str(settings.get("user") or "")
    if not host or not user:
        raise CredentialProviderError(
            "pgmonkey.providers.aws:rds_iam_token needs connection_settings.host and "
            "connection_settings.user"
        )
    if "," in host:
        raise CredentialProviderError(
            "pgmonkey.providers.aws:rds_iam_token signs for one host; connection_settings.host "
            f"lists several ({host!r})"
        )
    port = int(str(settings.get("port") or 5432).split(",")[0])
    region = _region(host)
    token = _client(region).generate_db_auth_token(
        DBHostname=host, Port=port, DBUsername=user, Region=region
    )
    return str(token)
