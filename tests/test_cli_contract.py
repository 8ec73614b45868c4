"""The CLI contract as a user's shell meets it: a real `lwa` process with the installed typer.

Exit codes (0 help, 1 failure, 2 usage), data on stdout and messages on stderr, full-width
tables on a pipe, global options after the subcommand, plain progress lines in a log.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timedelta

import click
import pytest

from lwa_cli.cli.main import app, hoist_global_options
from lwa_cli.models.registry import REGISTRY
from lwa_cli.progress import PlainProgress
from tests.cli_runner import lwa_command
from tests.cli_runner import run_lwa_process as run_lwa


def _command_paths() -> list[list[str]]:
    """Every command and subcommand of `lwa`, from the click tree typer builds."""
    import typer.main

    root = typer.main.get_command(app)
    out = []

    def walk(cmd, path):
        out.append(path)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])

    walk(root, [])
    return out


COMMANDS = _command_paths()


def test_every_command_is_listed():
    names = {" ".join(p) for p in COMMANDS}
    assert {"", "extract", "cca", "status", "sample frame", "embeddings glove",
            "demo corpus"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "lwa")
def test_help_exits_zero_with_every_option_documented(path):
    done = run_lwa(*path, "--help")
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout and "internal error" not in done.stdout + done.stderr
    assert "<bool>" not in done.stdout  # flags are shown as flags


def test_every_option_has_help_text():
    import typer.main

    root = typer.main.get_command(app)
    missing = []

    def walk(cmd, path):
        for param in cmd.params:
            if isinstance(param, click.Option) or type(param).__name__ == "TyperOption":
                if not (getattr(param, "help", None) or "").strip():
                    missing.append(f"{path} {param.opts[0]}")
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(root, "lwa")
    assert missing == []


@pytest.mark.parametrize("args, needle", [
    (["--no-such-option"], "No such option"),
    (["cca", "mel", "--modle", "x"], "No such option"),
    (["extract", "--split", "dev-clean"], "Missing option '--model'"),
    (["sample"], "Usage:"),
    (["mi", "phone", "--model", "m", "--clusters", "1"], "--clusters"),
])
def test_usage_errors_exit_two_with_click_usage_line(args, needle):
    done = run_lwa(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    text = done.stdout + done.stderr
    assert needle in text and "internal error" not in text
    assert "Usage:" in text
    if "--modle" in args:  # click suggests the option meant (wording differs by version)
        assert "--model" in text.split("--modle", 1)[1]


def test_device_option_is_the_same_everywhere():
    import typer.main

    root = typer.main.get_command(app)
    seen = []

    def walk(cmd, path):
        for param in cmd.params:
            if "--device" in getattr(param, "opts", []):
                seen.append((path, param.default))
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(root, "lwa")
    assert {"lwa extract", "lwa cca", "lwa mi"} <= {p for p, _ in seen}
    assert {d for _, d in seen} == {"auto"}


def test_piped_models_table_is_never_cut():
    done = run_lwa("models")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    for name in REGISTRY:
        assert any(f" {name} " in line for line in lines), name
    assert "…" not in done.stdout


def test_global_options_after_the_subcommand():
    assert hoist_global_options(["cca", "mel", "--model", "m", "-q", "-w", "W"]) == \
        ["-q", "-w", "W", "cca", "mel", "--model", "m"]
    assert hoist_global_options(["-w", "W", "models", "--workspace=V", "--", "-q"]) == \
        ["--workspace=V", "-w", "W", "models", "--", "-q"]
    done = run_lwa("models", "--json", "-q", "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert {r["name"] for r in json.loads(done.stdout)} == set(REGISTRY)


def test_version_and_json_on_stdout_messages_on_stderr(tmp_path):
    done = run_lwa("--version")
    assert done.returncode == 0 and done.stdout.startswith("lwa ")
    done = run_lwa("-w", str(tmp_path), "demo", "corpus", str(tmp_path / "c"), "--json")
    assert done.returncode == 0
    assert json.loads(done.stdout)["splits"]  # stdout is pure JSON
    done = run_lwa("-w", str(tmp_path / "none"), "status")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: no lwa workspace")


def test_plain_progress_lines_at_a_steady_pace():
    from io import StringIO

    from rich.console import Console

    buf = StringIO()
    now = [0.0]
    start = datetime(2026, 12, 6, 23, 59, 58)
    progress = PlainProgress(Console(file=buf, width=200), "extract", 40, "utt", step=0.25,
                             interval=30.0, clock=lambda: now[0],
                             wall=lambda: start + timedelta(seconds=now[0]))
    for _ in range(40):
        now[0] += 1.0
        progress.advance(1)
    lines = buf.getvalue().splitlines()
    # start, 25 %, 50 % (also 30 s passed), 75 %, done: never one line per utterance; each
    # line starts with the time of day.
    assert lines[0].startswith("2026-12-06 23:59:58 extract: 0/40 utt (0%)")
    assert [line.split(" ")[3] for line in lines] == ["0/40", "10/40", "20/40", "30/40", "40/40"]
    assert lines[-1] == "2026-12-07 00:00:38 extract: 40/40 utt (100%), 40 s"
    buf = StringIO()
    layers = PlainProgress(Console(file=buf, width=200), "mi-phone m", 1, "layer",
                           clock=lambda: 0.0, wall=lambda: start)
    layers.advance(1)
    assert buf.getvalue().splitlines() == ["2026-12-06 23:59:58 mi-phone m: 0/1 layer (0%), 0 s",
                                           "2026-12-06 23:59:58 mi-phone m: 1/1 layer (100%), 0 s"]
    buf = StringIO()
    PlainProgress(Console(file=buf, width=200), "figures", 16, "figure", clock=lambda: 0.0,
                  wall=lambda: start)
    assert buf.getvalue() == "2026-12-06 23:59:58 figures: 0/16 figures (0%), 0 s\n"


def test_a_redirected_run_writes_progress_while_it_runs(tmp_path, demo_corpus, demo_models):
    """stderr in a file (a SLURM log): progress lines appear before the command ends."""
    ws = tmp_path / "ws"
    (tmp_path / "c").symlink_to(demo_corpus.root)
    (tmp_path / "m").symlink_to(demo_models["demo_wav2vec2"].parent)
    assert run_lwa("-w", str(ws), "prepare-alignments", "--corpus",
                   str(tmp_path / "c" / "LibriSpeech"), "--alignments",
                   str(tmp_path / "c" / "alignments"), "--split", "dev-clean").returncode == 0
    assert run_lwa("-w", str(ws), "sample", "frame", "--split", "dev-clean",
                   "--utterances", "1000").returncode == 0
    log = tmp_path / "extract.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*lwa_command(), "-w", str(ws), "--threads", "1", "extract", "--model",
             "demo_wav2vec2", "--checkpoint", str(tmp_path / "m" / "demo_wav2vec2"),
             "--split", "dev-clean", "--span", "frame"],
            stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
        seen_while_running = False
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if "utt (" in log.read_text():
                seen_while_running = proc.poll() is None
                break
            time.sleep(0.05)
        assert proc.wait(timeout=300) == 0
    text = log.read_text()
    assert seen_while_running, text
    progress = [line for line in text.splitlines() if " utt (" in line]
    assert progress[0].split(": ")[1].startswith("0/62") and "(100%)" in progress[-1]
    assert len(progress) <= 12  # every 10 % (or 30 s), not every utterance
    # A rerun finds the file current: a status line on stderr, nothing on stdout; --quiet
    # leaves only errors and data.
    again = run_lwa("-w", str(ws), "extract", "--model", "demo_wav2vec2", "--checkpoint",
                    str(tmp_path / "m" / "demo_wav2vec2"), "--split", "dev-clean")
    assert again.returncode == 0 and again.stdout == ""
    assert "exists and is current" in again.stderr
    quiet = run_lwa("-w", str(ws), "extract", "--model", "demo_wav2vec2", "--checkpoint",
                    str(tmp_path / "m" / "demo_wav2vec2"), "--split", "dev-clean", "-q")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
