"""Load a configuration with environment references resolved, and log it safely."""

import json

from pgmonkey import load_config, redact_config

cfg = load_config("env.yaml", resolve_env=True)
print("port:", cfg["connection_settings"]["port"])  # an int, read from APP_DB_PORT
print(json.dumps(redact_config(cfg)["connection_settings"], indent=2))  # safe to log
