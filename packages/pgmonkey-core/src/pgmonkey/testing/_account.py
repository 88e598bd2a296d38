"""The operating-system account that runs test servers: PostgreSQL refuses to run as root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pgmonkey.errors import TestServerError

__all__ = ["ServerAccount"]


@dataclass(frozen=True)
class ServerAccount:
    """The operating-system account that runs the server processes (and PgBouncer).

    PostgreSQL refuses to run as root: under root, servers run as ``postgres`` when that
    account exists, else as ``nobody``. Elsewhere they run as the current user.

    Attributes:
        uid: The account's user id.
        gid: Its primary group id.
        name: Its login name.
    """

    uid: int
    gid: int
    name: str

    @classmethod
    def for_server(cls) -> ServerAccount | None:
        """Return the unprivileged account to use, or ``None`` to stay the current user."""
        if not hasattr(os, "geteuid") or os.geteuid() != 0:  # Windows has neither root nor pwd
            return None
        import pwd

        for name in ("postgres", "nobody"):
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return cls(uid=entry.pw_uid, gid=entry.pw_gid, name=name)
        raise TestServerError(
            "PostgreSQL refuses to run as root and neither a 'postgres' nor a 'nobody' "
            "account exists to run it as; create one (useradd postgres)"
        )

    @property
    def ids(self) -> tuple[int, int]:
        """``(uid, gid)``."""
        return (self.uid, self.gid)

    def give(self, path: Path) -> None:
        """Make ``path`` (recursively) owned by this account."""
        for root, dirs, files in os.walk(path):
            os.chown(root, self.uid, self.gid)
            for name in dirs + files:
                os.chown(os.path.join(root, name), self.uid, self.gid, follow_symlinks=False)
