"""The version of the pgmonkey-fastapi distribution."""

__version__ = "1.0.0"
