"""Running `lwa` in-process through Typer's runner, as the CLI-chain tests do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from lwa_cli.cli.main import app

runner = CliRunner()


def lwa(ws: Path, *args: str, code: int = 0, quiet: bool = True):
    """Run ``lwa [-q] -w WS ARGS…`` and check its exit code; return the click result."""
    result = runner.invoke(app, [*(["-q"] if quiet else []), "-w", str(ws), *args])
    assert result.exit_code == code, result.output
    return result


def lwa_json(ws: Path, *args: str) -> Any:
    """The parsed ``--json`` output of a quiet run."""
    return json.loads(lwa(ws, *args, "--json").stdout)
