"""The one way tests run `lwa`: in-process through Typer's runner (`lwa`, `lwa_json`), or as
a real subprocess of the installed entry point (`lwa_command`, `lwa_env`, `run_lwa_process`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from lwa_cli.cli.main import app

runner = CliRunner()


def lwa(ws: Path, *args: str, code: int | None = 0, quiet: bool = True):
    """Run ``lwa [-q] -w WS ARGS…`` in-process and check its exit code (``code=None``: any);
    return the click result."""
    result = runner.invoke(app, [*(["-q"] if quiet else []), "-w", str(ws), *args])
    if code is not None:
        assert result.exit_code == code, result.output
    return result


def lwa_json(ws: Path, *args: str) -> Any:
    """The parsed ``--json`` output of a quiet run."""
    return json.loads(lwa(ws, *args, "--json").stdout)


def lwa_command() -> list[str]:
    """The installed `lwa` executable beside this Python (``python -m lwa_cli`` without one)."""
    exe = Path(sys.executable).with_name("lwa")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "lwa_cli"]


def lwa_env(**extra: str) -> dict[str, str]:
    """The environment of a real `lwa` process: 80 columns, no inherited ``LWA_WORKSPACE``."""
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("LWA_WORKSPACE", None)
    return {**env, **extra}


def run_lwa_process(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                    timeout: int = 120) -> subprocess.CompletedProcess:
    """Run ``lwa ARGS…`` as a real process (stdin closed, text output captured); ``env``
    entries are added to :func:`lwa_env`."""
    return subprocess.run([*lwa_command(), *args], capture_output=True, text=True, cwd=cwd,
                          env=lwa_env(**(env or {})), timeout=timeout, stdin=subprocess.DEVNULL)
