# Origin: pgmonkey 3.4.0 README.md (the PyPI long description, sdist pgmonkey-3.4.0.tar.gz),
# section "Redacting Secrets for Logging" (verbatim).
# config: cfg-inline-env
# id: py-redact
from pgmonkey import load_config
from pgmonkey.common.utils.redaction import redact_config

cfg = load_config('config.yaml', resolve_env=True)
print(redact_config(cfg))
# {'connection_settings': {'password': '***REDACTED***', 'host': 'db.prod.com', ...}}
