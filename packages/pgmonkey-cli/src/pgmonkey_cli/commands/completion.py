"""``pgmonkey completion SHELL``: print a completion script for bash, zsh or fish.

Only argparse is imported here; the handler imports the generator when it runs.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]

DESCRIPTION = """\
Print a shell completion script for pgmonkey's commands, options and their values.

  bash:  eval "$(pgmonkey completion bash)"       (in ~/.bashrc), or save it as
         ~/.local/share/bash-completion/completions/pgmonkey
  zsh:   eval "$(pgmonkey completion zsh)"        (in ~/.zshrc)
  fish:  pgmonkey completion fish > ~/.config/fish/completions/pgmonkey.fish
"""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``completion`` command."""
    parser = subparsers.add_parser(
        "completion",
        help="Print a shell completion script (bash, zsh or fish)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=["bash", "zsh", "fish"], help="The shell to complete in.")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from pgmonkey_cli._completion import render

    print(render(args.shell, args.root_parser), end="")
    return 0
