"""The version of the pgmonkey-core distribution."""

__version__ = "5.0.0"
