"""Built-in credential providers for ``connection_settings.credential_provider``.

* :mod:`pgmonkey.providers.aws`: ``rds_iam_token``, an AWS RDS/Aurora IAM authentication
  token (``pip install "pgmonkey-core[aws]"``).

A provider is any ``package.module:function`` taking the connection's non-secret settings
(``host``, ``port``, ``user``, ``dbname``...) and returning the password, or a mapping of
connection parameters; see the "Rotating credentials" section of the operations guide.
"""
