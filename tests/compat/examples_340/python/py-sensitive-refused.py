# Origin: pgmonkey 3.4.0 README.md (the PyPI long description, sdist pgmonkey-3.4.0.tar.gz),
# section "Sensitive Key Protection": "This will FAIL (password is a sensitive key, defaults
# not allowed)" (the error's class and message are printed).
# config: cfg-sensitive-default
# unset: PGPASSWORD
# id: py-sensitive-refused
from pgmonkey import EnvInterpolationError, load_config

try:
    load_config('config.yaml', resolve_env=True)
except EnvInterpolationError as e:
    print('EnvInterpolationError:', e)
