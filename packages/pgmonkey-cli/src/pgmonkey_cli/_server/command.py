"""The ``pgserverconfig`` handler."""

from __future__ import annotations

import argparse
import sys

from pgmonkey_cli._exit import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from pgmonkey_cli._server.recommend import Network, parse_client_cidr, recommend

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Print the recommendations, or the audit with ``--audit``.

    Returns:
        0 when the recommendations (or the audit) were printed; 1 when ``--audit`` could not
        reach the server (the recommendations are printed all the same, the error on stderr);
        2 for an invalid configuration or option.
    """
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
            # Like 3.x, fall back to the recommendations (they need no server), but say the
            # audit failed and exit 1: a script must not take this for a completed audit.
            message = redact_output(format_error(exc))
            recs = recommend(cfg, processes=args.processes, client_networks=networks)
            if args.json:
                print(report.recommendations_json(source, recs, audit_error=message))
            else:
                print(report.recommendations_text(source, recs))
            print(f"pgmonkey: error: audit failed: {message}", file=sys.stderr)
            print(
                "  (the recommendations above come from the configuration only)", file=sys.stderr
            )
            return EXIT_FAILURE
        audit = report.audit_json if args.json else report.audit_text
        print(redact_output(audit(source, result)))
        return EXIT_OK
    recs = recommend(cfg, processes=args.processes, client_networks=networks)
    text = report.recommendations_json if args.json else report.recommendations_text
    # Host names, roles and notes quote the configuration: shown as every target is.
    print(redact_output(text(source, recs)))
    return EXIT_OK
