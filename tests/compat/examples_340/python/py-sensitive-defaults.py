# Origin: pgmonkey 3.4.0 README.md (the PyPI long description, sdist pgmonkey-3.4.0.tar.gz),
# section "Sensitive Key Protection" (allow_sensitive_defaults=True; PGPASSWORD is unset
# here, so the fallback is used).
# config: cfg-sensitive-default
# unset: PGPASSWORD
# id: py-sensitive-defaults
from pgmonkey import load_config

cfg = load_config('config.yaml', resolve_env=True, allow_sensitive_defaults=True)
print(cfg['connection_settings']['password'])
