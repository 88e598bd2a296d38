"""Shell completion scripts for bash, zsh and fish, generated from the argument parser.

The parser is the only description of the commands: :func:`command_tree` walks it into
:class:`Command` nodes, and one renderer per shell turns those into a script. A command or
option added to the parser is completed without touching this module.
"""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass, field

__all__ = ["SHELLS", "Command", "Option", "command_tree", "render"]

SHELLS = ("bash", "zsh", "fish")

_FILE_VALUE = re.compile(r"file|connconfig|dir|path", re.IGNORECASE)


@dataclass(frozen=True)
class Option:
    """One option of a command, as a shell needs to know it."""

    strings: tuple[str, ...]
    """Every spelling, e.g. ``("--import-file", "--import_file")``."""
    value: str
    """``""`` (a flag), ``"file"``, ``"choices"`` or ``"text"``."""
    choices: tuple[str, ...] = ()
    help: str = ""


@dataclass
class Command:
    """A command or command group: ``path`` is ``()`` for ``pgmonkey`` itself."""

    path: tuple[str, ...]
    help: str = ""
    options: list[Option] = field(default_factory=list)
    children: dict[str, Command] = field(default_factory=dict)
    arguments: list[str] = field(default_factory=list)
    """The choices of its positional arguments (``completion bash``)."""

    def walk(self) -> list[Command]:
        """This command and every command below it, parents first."""
        found: list[Command] = [self]
        for child in self.children.values():
            found += child.walk()
        return found


def _option(action: argparse.Action) -> Option:
    help_text = "" if action.help in (None, argparse.SUPPRESS) else str(action.help)
    first_line = help_text.split(". ")[0].rstrip(".")
    if action.nargs == 0:
        return Option(tuple(action.option_strings), "", help=first_line)
    if action.choices is not None:
        choices = tuple(str(c) for c in action.choices)
        return Option(tuple(action.option_strings), "choices", choices, first_line)
    names = f"{action.dest} {action.metavar or ''}"
    kind = "file" if _FILE_VALUE.search(names) else "text"
    return Option(tuple(action.option_strings), kind, help=first_line)


def command_tree(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Command:
    """Describe ``parser`` and its sub-parsers as a :class:`Command` tree."""
    node = Command(path)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: str(a.help or "") for a in action._choices_actions}
            for name, child in action.choices.items():
                sub = command_tree(child, (*path, name))
                sub.help = helps.get(name, "")
                node.children[name] = sub
        elif action.option_strings and action.help != argparse.SUPPRESS:
            node.options.append(_option(action))
        elif not action.option_strings and action.choices is not None:
            node.arguments += [str(c) for c in action.choices]
    return node


def render(shell: str, parser: argparse.ArgumentParser) -> str:
    """Return the completion script of ``pgmonkey`` for ``shell`` (one of :data:`SHELLS`)."""
    tree = command_tree(parser)
    if shell == "bash":
        return _bash(tree)
    if shell == "zsh":
        return _zsh(tree)
    if shell == "fish":
        return _fish(tree)
    raise ValueError(f"unknown shell {shell!r}: choose one of {', '.join(SHELLS)}")


# --------------------------------------------------------------------------- bash and zsh

_BASH_MAIN = r"""
_pgmonkey() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local path="" word kind i=1
    while [ "$i" -lt "$COMP_CWORD" ]; do
        word="${COMP_WORDS[i]}"
        if [[ "$word" == -* ]]; then
            kind="$(_pgmonkey_value "$path" "$word")"
            [ -n "$kind" ] && i=$((i + 1))
        elif [[ " $(_pgmonkey_commands "$path") " == *" $word "* ]]; then
            path="${path:+$path }$word"
        fi
        i=$((i + 1))
    done
    if [ "$COMP_CWORD" -gt 1 ] && [[ "$prev" == -* ]]; then
        kind="$(_pgmonkey_value "$path" "$prev")"
        case "$kind" in
            file)
                compopt -o filenames 2>/dev/null
                COMPREPLY=($(compgen -f -- "$cur"))
                return 0 ;;
            choices\ *)
                COMPREPLY=($(compgen -W "${kind#choices }" -- "$cur"))
                return 0 ;;
            text)
                COMPREPLY=()
                return 0 ;;
        esac
    fi
    COMPREPLY=($(compgen -W "$(_pgmonkey_commands "$path") $(_pgmonkey_options "$path")" \
        -- "$cur"))
}
complete -F _pgmonkey pgmonkey
"""


def _case(name: str, arms: list[tuple[str, str]]) -> str:
    lines = [f"{name}() {{", '    case "$1" in']
    lines += [f"        {shlex.quote(key)}) echo {shlex.quote(value)} ;;" for key, value in arms]
    lines += ["    esac", "}"]
    return "\n".join(lines)


def _bash(tree: Command) -> str:
    commands = [(" ".join(c.path), " ".join(c.children)) for c in tree.walk() if c.children]
    options = [
        (" ".join(c.path), " ".join([*c.arguments, *(s for o in c.options for s in o.strings)]))
        for c in tree.walk()
    ]
    values = [
        (f"{' '.join(c.path)}|{s}", f"choices {' '.join(o.choices)}" if o.choices else o.value)
        for c in tree.walk()
        for o in c.options
        if o.value
        for s in o.strings
    ]
    value_function = _case("_pgmonkey_value", values).replace('case "$1" in', 'case "$1|$2" in')
    return "\n".join(
        [
            "# bash completion for pgmonkey, generated by `pgmonkey completion bash`.",
            _case("_pgmonkey_commands", commands),
            _case("_pgmonkey_options", options),
            value_function,
            _BASH_MAIN.strip(),
            "",
        ]
    )


def _zsh(tree: Command) -> str:
    # zsh runs the bash script through its bash-completion emulation.
    return "\n".join(
        [
            "#compdef pgmonkey",
            "# zsh completion for pgmonkey, generated by `pgmonkey completion zsh`.",
            "autoload -U +X compinit && compinit -u",
            "autoload -U +X bashcompinit && bashcompinit",
            _bash(tree),
        ]
    )


# --------------------------------------------------------------------------- fish


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_condition(node: Command) -> str:
    """The condition under which ``node``'s words are offered."""
    if not node.path:
        return "__fish_use_subcommand"
    seen = [f"__fish_seen_subcommand_from {name}" for name in node.path]
    if node.children:
        seen.append(f"not __fish_seen_subcommand_from {' '.join(node.children)}")
    return "; and ".join(seen)


def _fish(tree: Command) -> str:
    lines = [
        "# fish completion for pgmonkey, generated by `pgmonkey completion fish`.",
        "complete -c pgmonkey -f",
    ]
    for node in tree.walk():
        condition = _fish_quote(_fish_condition(node))
        for name, child in node.children.items():
            lines.append(
                f"complete -c pgmonkey -n {condition} -a {name} -d {_fish_quote(child.help)}"
            )
        if node.arguments:
            lines.append(
                f"complete -c pgmonkey -n {condition} -a {_fish_quote(' '.join(node.arguments))}"
            )
        for option in node.options:
            words = []
            for string in option.strings:
                if string.startswith("--"):
                    words.append(f"-l {string[2:]}")
                else:
                    words.append(f"-s {string[1:]}")
            if option.value == "file":
                words.append("-r -F")
            elif option.value == "choices":
                words.append(f"-x -a {_fish_quote(' '.join(option.choices))}")
            elif option.value == "text":
                words.append("-x")
            lines.append(
                f"complete -c pgmonkey -n {condition} {' '.join(words)}"
                f" -d {_fish_quote(option.help)}"
            )
    return "\n".join(lines) + "\n"
