"""Allow ``python -m pgmonkey_cli``."""

import sys

from pgmonkey_cli._app import main

sys.exit(main())
