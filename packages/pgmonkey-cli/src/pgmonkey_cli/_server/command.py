"""The ``pgserverconfig`` handler."""

from __future__ import annotations

import argparse
import sys

from pgmonkey_cli._exit import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from pgmonkey_cli._server.recommend import Network, parse_client_cidr, recommend

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Print the recommendations, or the audit with ``--audit``."""
    from pgmonkey.errors import ConfigError, PgMonkeyError
    from pgmonkey_cli._errors import format_error, redact_output
    from pgmonkey_cli._options import load_config_from_args
    from pgmonkey_cli._server import report

    networks: list[Network] = []
    for text in args.client_cidr:
        try:
            networks.append(parse_client_cidr(text))
        except ValueError as exc:
            print(f"pgmonkey: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    cfg = load_config_from_args(args)
    source = str(args.connconfig)
    if args.audit:
        from pgmonkey_cli._server.audit import run_audit

        try:
            result = run_audit(cfg, processes=args.processes, client_networks=networks)
        except ConfigError:
            raise  # an invalid configuration: exit 2, like every other command
        except PgMonkeyError as exc:
            message = redact_output(format_error(exc))
            print(f"pgmonkey: error: audit failed: {message}", file=sys.stderr)
            return EXIT_FAILURE
        audit = report.audit_json if args.json else report.audit_text
        print(redact_output(audit(source, result)))
        return EXIT_OK
    recs = recommend(cfg, processes=args.processes, client_networks=networks)
    text = report.recommendations_json if args.json else report.recommendations_text
    # Host names, roles and notes quote the configuration: shown as every target is.
    print(redact_output(text(source, recs)))
    return EXIT_OK
