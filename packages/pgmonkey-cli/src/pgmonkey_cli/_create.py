"""``pgmonkey pgconfig create``: write the configuration template, never clobbering a file.

Like pgmonkey 3.x, creating a file that already exists is not an error: the file is left
alone, a message says so and the command exits with 0 (it is idempotent, so a provisioning
script can run it every time). ``--force`` replaces the file atomically with a fresh template.
"""

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
    """Write the template to ``args.connconfig``; an existing file is kept unless ``--force``.

    Returns:
        0 when the template was written or the file already exists (and is left alone);
        1 when the path is a directory or cannot be written.
    """
    from pgmonkey.config import template_text

    path = Path(args.connconfig)
    if path.is_dir():
        print(f"pgmonkey: error: {path} is a directory; give a file path", file=sys.stderr)
        return EXIT_FAILURE
    existed = path.exists()
    if existed and not args.force:
        _report_existing(path)
        return EXIT_OK
    try:
        write_private_file(path, template_text(), overwrite=bool(args.force))
    except FileExistsError:  # created by someone else since the check: still left alone
        _report_existing(path)
        return EXIT_OK
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"pgmonkey: error: cannot write {path}: {reason}", file=sys.stderr)
        return EXIT_FAILURE
    verb = "replaced" if existed else "created"
    print(f"New configuration template {verb}: {path}")
    print(f"File mode 0600. Edit it, then run: pgmonkey pgconfig test --connconfig {path}")
    return EXIT_OK


def _report_existing(path: Path) -> None:
    # 3.x printed the same two lines (on stdout, exit 0); the hint about --force is new.
    print(f"Configuration file already exists: {path}")
    print("Edit this file to update settings, or run again with --force to replace it.")
