# Origin: pgmonkey 3.4.0 README.md (the PyPI long description, sdist pgmonkey-3.4.0.tar.gz),
# section "Redacting Secrets for Logging" (the snippet, verbatim, on the cfg-nested config:
# an application section next to pgmonkey's, with a token). id: py-nested-redact
# config: cfg-nested
from pgmonkey import load_config
from pgmonkey.common.utils.redaction import redact_config

cfg = load_config('config.yaml', resolve_env=True)
print(redact_config(cfg).get('app'))
