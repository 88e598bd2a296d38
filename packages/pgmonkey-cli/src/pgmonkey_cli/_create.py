"""``pgmonkey pgconfig create``: write the configuration template, never clobbering a file."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

from pgmonkey_cli._exit import EXIT_FAILURE, EXIT_OK

__all__ = ["create_config", "write_private_file"]

FILE_MODE = 0o600
"""The template holds a password: only its owner may read it."""


def write_private_file(path: Path, text: str, *, overwrite: bool) -> None:
    """Write ``text`` to ``path`` with mode 0600, creating parent directories.

    Without ``overwrite`` the file is created exclusively (``FileExistsError`` when it
    exists). With it, the text goes to a temporary file in the same directory that then
    replaces ``path`` atomically, so a failure never leaves a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    if not overwrite:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            os.write(fd, data)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        os.close(fd)
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def create_config(args: argparse.Namespace) -> int:
    """Write the template to ``args.connconfig``; refuse to overwrite without ``--force``."""
    from pgmonkey.config import template_text

    path = Path(args.connconfig)
    if path.is_dir():
        print(f"pgmonkey: error: {path} is a directory; give a file path", file=sys.stderr)
        return EXIT_FAILURE
    existed = path.exists()
    if existed and not args.force:
        print(
            f"pgmonkey: error: Configuration file already exists: {path}\n"
            "  Edit it, or run again with --force to replace it with a fresh template.",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    try:
        write_private_file(path, template_text(), overwrite=bool(args.force))
    except FileExistsError:
        print(f"pgmonkey: error: Configuration file already exists: {path}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"pgmonkey: error: cannot write {path}: {reason}", file=sys.stderr)
        return EXIT_FAILURE
    verb = "replaced" if existed else "created"
    print(f"New configuration template {verb}: {path}")
    print(f"File mode 0600. Edit it, then run: pgmonkey pgconfig test --connconfig {path}")
    return EXIT_OK
