"""The version of the pgmonkey-flask distribution."""

__version__ = "1.0.0"
