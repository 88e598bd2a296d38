"""``pgmonkey pgconfig schema``: the JSON Schema of configuration files, for editors."""

from __future__ import annotations

import json
import subprocess
import sys

from pgmonkey.config import json_schema


def test_the_cli_prints_the_same_schema() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pgmonkey_cli", "pgconfig", "schema"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert json.loads(proc.stdout) == json_schema()
