"""The version of the pgmonkey-django distribution."""

__version__ = "1.0.0"
