"""``pgmonkey pgconfig validate`` and ``pgmonkey pgconfig show``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pgmonkey_cli._exit import EXIT_OK, EXIT_USAGE

__all__ = ["show", "validate"]


def _problem_record(problem: Exception) -> dict[str, Any]:
    record: dict[str, Any] = {"type": type(problem).__name__, "message": str(problem)}
    key_path = getattr(problem, "key_path", None)
    if key_path:
        record["key"] = ".".join(str(k) for k in key_path)
    for attr in ("line", "column"):
        value = getattr(problem, attr, None)
        if value is not None:
            record[attr] = value
    return record


def _hint_record(hint: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"message": str(hint), "key": ".".join(map(str, hint.key_path))}
    if hint.line is not None:
        record["line"] = hint.line
    return record


def validate(args: argparse.Namespace) -> int:
    """Print every problem of ``args.connconfig`` (and hints); exit 2 when there is a problem."""
    from pgmonkey.config import ConfigHint, check_config
    from pgmonkey.errors import ConfigError

    hints: list[ConfigHint] = []
    try:
        report = check_config(
            args.connconfig,
            resolve_env=args.resolve_env,
            allow_sensitive_defaults=args.allow_sensitive_defaults,
        )
        problems: list[Exception] = list(report.problems)
        hints = report.hints
    except ConfigError as exc:  # a file that cannot be read at all
        problems = [exc]
    if args.json:
        print(
            json.dumps(
                {
                    "file": str(args.connconfig),
                    "valid": not problems,
                    "problems": [_problem_record(p) for p in problems],
                    "warnings": [_hint_record(h) for h in hints],
                },
                indent=2,
            )
        )
    elif problems:
        count = len(problems)
        print(f"{args.connconfig}: {count} problem{'s' if count != 1 else ''}")
        for problem in problems:
            lines = str(problem).splitlines() or [type(problem).__name__]
            print(f"  - {lines[0]}")
            for more in lines[1:]:
                print(f"    {more}")
    else:
        print(f"{args.connconfig}: OK, no problems found")
    if not args.json:
        for hint in hints:
            print(f"  warning: {hint}")
    return EXIT_USAGE if problems else EXIT_OK


def show(args: argparse.Namespace) -> int:
    """Print the effective configuration of ``args.connconfig`` with secrets redacted."""
    from pgmonkey.config import redact_config
    from pgmonkey_cli._options import load_config_from_args

    cfg = load_config_from_args(args, resolved=False)
    redacted = redact_config(cfg)
    if args.json:
        print(json.dumps(redacted, indent=2, default=str))
        return EXIT_OK
    import yaml

    print(f"# Effective configuration of {args.connconfig} (secrets redacted)")
    if args.resolve_env:
        print("# Environment references resolved (--resolve-env).")
    print(yaml.safe_dump(redacted, sort_keys=False, default_flow_style=False).rstrip())
    return EXIT_OK
