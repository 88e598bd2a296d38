"""The pgmonkey 3.4.0 README examples (``examples_340/``): loading, substitution, running.

Three kinds of examples, each with an id:

* ``configs/<id>.yaml``: a YAML configuration. Its outcome is what ``load_config`` makes of it
  and whether a ``normal`` connection runs ``SELECT 1`` (the probe below).
* ``python/<id>.py``: a Python snippet, run as a program with ``config.yaml`` next to it.
* ``cli.yaml``: ``pgmonkey`` commands.

The substitution that points every example at the throwaway server (documented in
``tests/compat/README.md``):

* in ``connection_settings``, ``host``, ``port``, ``user``, ``password`` and ``dbname`` that
  are literal values are replaced by the server's (and added when missing); values holding
  ``${...}`` or a ``from_env``/``from_file`` reference are kept, and the environment provides
  ``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE`` and
  ``PGMONKEY_DB_PASSWORD`` (the server's values; an example may unset some);
* ``from_file: /var/run/secrets/db/password`` reads ``secrets/password`` in the example's
  directory, which holds the server's password;
* pool ``timeout`` values are capped at 5 seconds (a failing pool then fails in 5 s, not 30);
* in snippets and commands, ``/path/to/`` is removed (files live in the example's directory)
  and ``pgmonkey`` is the console script of the environment under test.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "examples_340"
SERVER_KEYS = ("host", "port", "user", "password", "dbname")
SECRET_FILE = "/var/run/secrets/db/password"
POOL_TIMEOUT_CAP = 5
RUN_TIMEOUT = 30

#: The probe run for every configuration example, under both versions.
CONFIG_PROBE = """\
import json, sys
from pgmonkey import PGConnectionManager, load_config
resolve = sys.argv[1] == "1"
out, detail = {}, {}
try:
    cfg = load_config("config.yaml", resolve_env=resolve)
    out["sections"] = sorted(cfg)
    out["connection_settings"] = sorted(cfg["connection_settings"])
except Exception as e:
    out["load"] = "error"
    detail["load"] = f"{type(e).__name__}: {e}"
else:
    try:
        conn = PGConnectionManager().get_database_connection(
            "config.yaml", "normal", resolve_env=resolve
        )
        with conn as c:
            with c.cursor() as cur:
                cur.execute("SELECT 1")
                out["select"] = cur.fetchone()[0]
    except Exception as e:
        out["select"] = "error"
        detail["select"] = f"{type(e).__name__}: {e}"
print(json.dumps({"outcome": out, "detail": detail}))
"""


@dataclass
class Example:
    """One README example."""

    id: str
    kind: str  # "config", "python" or "cli"
    config: str | None = "cfg-template"
    source: Path | None = None
    commands: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    setup: str | None = None
    check: str | None = None
    markers: list[str] = field(default_factory=list)
    unset: list[str] = field(default_factory=list)


def _header(path: Path) -> dict[str, str]:
    """``# key: value`` lines at the top of a snippet (setup, check, config, unset)."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        m = re.match(r"#\s*(setup|check|config|unset):\s*(.+)$", line)
        if m:
            found[m.group(1)] = m.group(2).strip()
    return found


def load_examples() -> list[Example]:
    """Every example, configs first, then snippets, then commands."""
    examples = [
        Example(id=p.stem, kind="config", config=p.stem, source=p)
        for p in sorted((EXAMPLES / "configs").glob("*.yaml"))
    ]
    for path in sorted((EXAMPLES / "python").glob("*.py")):
        head = _header(path)
        examples.append(
            Example(
                id=path.stem,
                kind="python",
                source=path,
                config=head.get("config", "cfg-template").split()[0],
                setup=head.get("setup"),
                check=head.get("check"),
                unset=head.get("unset", "").split(),
            )
        )
    for entry in yaml.safe_load((EXAMPLES / "cli.yaml").read_text(encoding="utf-8")):
        config = entry.get("config", "cfg-template")
        examples.append(
            Example(
                id=entry["id"],
                kind="cli",
                config=None if config == "none" else config,
                commands=[entry["command"], *entry.get("then", [])],
                files=entry.get("files", {}),
                setup=entry.get("setup"),
                check=entry.get("check"),
                markers=entry.get("markers", []),
            )
        )
    return examples


def substitute(text: str, server: dict[str, Any]) -> str:
    """The configuration ``text`` pointed at the throwaway ``server`` (see the module doc)."""
    data = yaml.safe_load(text) or {}
    settings = data.setdefault("connection_settings", {})
    for key in SERVER_KEYS:
        value = settings.get(key)
        if isinstance(value, dict) and isinstance(value.get("from_file"), str):
            if value["from_file"] == SECRET_FILE:
                value["from_file"] = "secrets/password"
            continue
        if isinstance(value, dict) or (isinstance(value, str) and "${" in value):
            continue
        settings[key] = str(server[key])
    for section in ("pool_settings", "async_pool_settings"):
        pool = data.get(section)
        if isinstance(pool, dict) and isinstance(pool.get("timeout"), int | float):
            pool["timeout"] = min(pool["timeout"], POOL_TIMEOUT_CAP)
    return yaml.safe_dump(data, sort_keys=False)


def server_env(server: dict[str, Any], unset: list[str]) -> dict[str, str]:
    """The environment of every example: minimal, plus the server's PG* variables."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "COLUMNS": "80",
        "NO_COLOR": "1",
        "PGHOST": str(server["host"]),
        "PGPORT": str(server["port"]),
        "PGUSER": str(server["user"]),
        "PGPASSWORD": str(server["password"]),
        "PGDATABASE": str(server["dbname"]),
        "PGMONKEY_DB_PASSWORD": str(server["password"]),
    }
    for name in unset:
        env.pop(name, None)
    return env


def _command_words(command: str, bindir: Path) -> list[str]:
    words = shlex.split(command.replace("/path/to/", ""))
    if words[0] == "pgmonkey":
        words[0] = str(bindir / "pgmonkey")
    return words


def _markers(stdout: str, markers: list[str]) -> dict[str, bool]:
    return {m: m in stdout for m in markers}


def _files(workdir: Path, before: set[str]) -> dict[str, str | None]:
    """Files the example created: name -> content for CSV output, else None."""
    created: dict[str, str | None] = {}
    for path in sorted(workdir.iterdir()):
        if path.name in before or not path.is_file():
            continue
        small_csv = path.suffix == ".csv" and path.stat().st_size < 4096
        created[path.name] = path.read_text(encoding="utf-8") if small_csv else None
    return created


@dataclass
class Run:
    """What one example did under one version: ``outcome`` is compared, ``detail`` shown."""

    outcome: dict[str, Any]
    detail: dict[str, Any]


def run_example(
    example: Example,
    *,
    bindir: Path,
    workdir: Path,
    server: dict[str, Any],
    sql: Any,
) -> Run:
    """Run ``example`` with the environment in ``bindir``; ``sql(query)`` runs in its db."""
    workdir.mkdir(parents=True)
    (workdir / "secrets").mkdir()
    (workdir / "secrets" / "password").write_text(f"{server['password']}\n", encoding="utf-8")
    if example.config is not None:
        text = (EXAMPLES / "configs" / f"{example.config}.yaml").read_text(encoding="utf-8")
        (workdir / "config.yaml").write_text(substitute(text, server), encoding="utf-8")
    for name, content in example.files.items():
        (workdir / name).write_text(content, encoding="utf-8")
    if example.setup:
        for statement in example.setup.split(";"):
            sql(statement)
    env = server_env(server, example.unset)
    before = {p.name for p in workdir.iterdir()}
    outcome: dict[str, Any] = {}
    detail: dict[str, Any] = {}
    python = str(bindir / "python")
    if example.kind == "config":
        assert example.source is not None
        resolve = "1" if re.search(r"\$\{|from_env|from_file", example.source.read_text()) else "0"
        proc = _run([python, "-c", CONFIG_PROBE, resolve], workdir, env)
        if proc.returncode == 0:
            data = json.loads(proc.stdout)
            outcome, detail = data["outcome"], data["detail"]
        else:
            outcome = {"rc": proc.returncode}
            detail = {"stderr": proc.stderr[-2000:]}
    elif example.kind == "python":
        assert example.source is not None
        text = example.source.read_text(encoding="utf-8").replace("/path/to/", "")
        (workdir / "example.py").write_text(text, encoding="utf-8")
        proc = _run([python, "example.py"], workdir, env)
        outcome = {"rc": proc.returncode, "stdout": _normalise(proc.stdout, workdir)}
        detail = {"stderr": proc.stderr[-2000:]}
        before.add("example.py")
    else:
        runs = []
        for command in example.commands:
            proc = _run(_command_words(command, bindir), workdir, env)
            runs.append({"rc": proc.returncode, **_markers(proc.stdout, example.markers)})
            detail.setdefault("output", []).append((proc.stdout[-1500:], proc.stderr[-1500:]))
        outcome = {"runs": runs, "files": _files(workdir, before)}
    if example.check:
        try:
            outcome["check"] = [list(map(str, row)) for row in sql(example.check)]
        except Exception as exc:
            outcome["check"] = f"error: {type(exc).__name__}"
    return Run(outcome, detail)


def _normalise(text: str, workdir: Path) -> str:
    return text.replace(str(workdir), "<dir>")


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            args,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(args, -9, str(exc.stdout or ""), "timed out")
