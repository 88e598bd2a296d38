"""The version of the pgmonkey-cli distribution."""

__version__ = "5.0.0"
