# Origin: pgmonkey 3.4.0 README.md (the PyPI long description, sdist pgmonkey-3.4.0.tar.gz),
# section "Python API" (the load_config() block; prints what it loaded).
# config: cfg-inline-env
# id: py-load-config
from pgmonkey import load_config

# Load without interpolation (default - same as always)
cfg = load_config('config.yaml')
print(cfg['connection_settings']['host'])

# Load with env interpolation enabled
cfg = load_config('config.yaml', resolve_env=True)
print(cfg['connection_settings']['port'])

# Strict mode: fail on missing vars
cfg = load_config('config.yaml', resolve_env=True, strict=True)
print(sorted(cfg['connection_settings']))
