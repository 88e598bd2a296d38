"""``pgmonkey pgconfig create``: write the configuration template, never clobbering a file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pgmonkey_cli._exit import EXIT_FAILURE, EXIT_OK

__all__ = ["create_config", "write_private_file"]


def write_private_file(path: Path, text: str, *, overwrite: bool) -> None:
    """Write ``text`` to ``path`` with mode 0600 (it holds a password), creating parents.

    Without ``overwrite`` the file is created exclusively (``FileExistsError`` when it
    exists); with it, it is replaced atomically. Both through
    :func:`pgmonkey.files.write_private`.
    """
    from pgmonkey.files import write_private

    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, text, exclusive=not overwrite)


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
