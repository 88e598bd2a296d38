"""Text for people (aligned, 80 columns) and JSON for scripts."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from pgmonkey_cli._server.audit import AuditResult
from pgmonkey_cli._server.recommend import Recommendations
from pgmonkey_cli._table import format_table

__all__ = ["audit_json", "audit_text", "recommendations_json", "recommendations_text"]

_WIDTH = 80


def _notes(notes: list[str], title: str = "Notes") -> list[str]:
    if not notes:
        return []
    out = ["", f"{title}:"]
    for note in notes:
        out.extend(
            textwrap.wrap(
                note,
                _WIDTH,
                break_on_hyphens=False,
                initial_indent="  - ",
                subsequent_indent="    ",
            )
        )
    return out


def _hba_block(recs: Recommendations) -> list[str]:
    rows = [h.columns() for h in recs.hba]
    headers = ["# TYPE", "DATABASE", "USER", "ADDRESS", "METHOD", "OPTIONS"]
    table = format_table(headers, rows, keep=True)  # lines to paste: never shortened
    return [line for line in table.splitlines() if not set(line.strip()) <= {"-", " "}]


def recommendations_text(source: str, recs: Recommendations) -> str:
    """The recommendations as a report."""
    out = [f"Server settings for {source}", "", "postgresql.conf:"]
    width = max(len(f"{s.name} = {s.value}") for s in recs.settings)
    for s in recs.settings:
        line = f"  {s.name} = {s.value}".ljust(width + 2)
        if len(f"{line}  # {s.reason}") <= _WIDTH:
            out.append(f"{line}  # {s.reason}")
            continue
        out.extend(
            textwrap.wrap(s.reason, _WIDTH, initial_indent="  # ", subsequent_indent="  # ")
        )
        out.append(line.rstrip())
    out += ["", "pg_hba.conf (the first matching line wins: put these above broader ones):"]
    out += _hba_block(recs)
    out += _notes(recs.notes)
    return "\n".join(out)


def recommendations_json(
    source: str, recs: Recommendations, *, audit_error: str | None = None
) -> str:
    """The recommendations as JSON (with ``audit_error`` when an audit could not run)."""
    data: dict[str, Any] = {"config": source, **recs.as_dict()}
    if audit_error is not None:
        data["audit_error"] = audit_error
    return json.dumps(data, indent=2)


def audit_text(source: str, result: AuditResult) -> str:
    """The audit as a report."""
    s = result.server
    conn = s["connection"] + (f" from {s['client_address']}" if s["client_address"] else "")
    if s["ssl"]:
        conn += f", SSL {s['ssl_version']}"
    out = [
        f"Audit of the server for {source}",
        f"  PostgreSQL {s['version']}",
        f"  database {s['database']!r}, role {s['user']!r}"
        + (" (superuser)" if s["superuser"] else ""),
        f"  connection: {conn}",
        f"  read-only session: default_transaction_read_only = "
        f"{s['default_transaction_read_only']}",
        "",
        "postgresql.conf:",
        format_table(
            ["SETTING", "RECOMMENDED", "CURRENT", "SOURCE", "STATUS"],
            [
                [
                    st.name,
                    st.recommended,
                    "(hidden)" if st.current is None else st.current,
                    st.source or "",
                    st.status,
                ]
                for st in result.settings
            ],
            keep=(0, 1),  # the setting and its recommended value are meant to be copied
        ),
        "",
        "pg_hba.conf:",
    ]
    if result.hba_rules is None:
        out.append("  (not readable by this role: see the notes)")
    else:
        matched = {v.rule.line_number for v in result.hba_verdicts if v.rule is not None}
        out.append(
            format_table(
                ["LINE", "TYPE", "DATABASE", "USER", "ADDRESS", "METHOD"],
                [
                    [
                        ("*" if r.line_number in matched else " ") + str(r.line_number),
                        r.type,
                        ",".join(r.database),
                        ",".join(r.user_name),
                        r.address_text(),
                        r.auth_method + (" " + " ".join(r.options) if r.options else ""),
                    ]
                    for r in result.hba_rules
                ],
            )
        )
        for v in result.hba_verdicts:
            out.extend(
                textwrap.wrap(
                    f"{v.status}: {v.client}: {v.message}",
                    _WIDTH,
                    initial_indent="  ",
                    subsequent_indent="    ",
                )
            )
    out += ["", "Recommended pg_hba.conf lines:"]
    out += _hba_block(result.recommendations)
    out += _notes(result.notes + result.recommendations.notes)
    return "\n".join(out)


def audit_json(source: str, result: AuditResult) -> str:
    """The audit (and the recommendations) as JSON."""
    data: dict[str, Any] = {
        "config": source,
        **result.recommendations.as_dict(),
        "audit": result.as_dict(),
    }
    return json.dumps(data, indent=2, default=str)
