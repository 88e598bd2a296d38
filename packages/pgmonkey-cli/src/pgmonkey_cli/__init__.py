"""The ``pgmonkey`` command line.

Run ``pgmonkey --help`` (or ``python -m pgmonkey_cli --help``) for the commands. The module
imports nothing heavy: each command loads what it needs when it runs.
"""

from pgmonkey_cli._app import main
from pgmonkey_cli._version import __version__

__all__ = ["__version__", "main"]
