"""PGConnectionManager (placeholder: replaced by the connections work)."""

from __future__ import annotations

__all__ = ["PGConnectionManager"]


class PGConnectionManager:
    """Hands out cached pgmonkey connections (placeholder)."""
