"""CLI consistency (issue 19, item 5): typo'd model names, "not found" lists, completion from
the workspace, progress and log headers, `lwa report`'s stdout, `lwa status` variants."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lwa_cli.demo.models import write_demo_models
from tests.cli_runner import lwa, lwa_json

M = "demo_wav2vec2"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Demo corpus (dev-clean), frame + phone samples, frame/phone features of the demo
    wav2vec2 at T0-T2; `root/m` holds the checkpoints."""
    root = tmp_path_factory.mktemp("consistency")
    ws = root / "ws"
    lwa(ws, "demo", "corpus", str(root / "c"))
    write_demo_models(root / "m", seed=0)
    lwa(ws, "prepare-alignments", "--corpus", str(root / "c" / "LibriSpeech"), "--alignments",
        str(root / "c" / "alignments"), "--split", "dev-clean")
    lwa(ws, "sample", "frame", "--split", "dev-clean", "--utterances", "4")
    lwa(ws, "sample", "phone", "--split", "dev-clean")
    for span in ("frame", "phone"):
        lwa(ws, "extract", "--model", M, "--checkpoint", str(root / "m" / M), "--split",
            "dev-clean", "--span", span, "--layer", "T0-T2")
    return root


@pytest.fixture()
def ws(built, tmp_path) -> Path:
    shutil.copytree(built / "ws", tmp_path / "ws")
    return tmp_path / "ws"


def test_misspelt_model_is_refused_unless_new_model(built, ws):
    ckpt = str(built / "m" / M)
    args = ["extract", "--checkpoint", ckpt, "--split", "dev-clean", "--span", "phone",
            "--layer", "T1"]
    res = lwa(ws, *args, "--model", "demo_wav2vec", code=2)
    assert "did you mean demo_wav2vec2?" in res.output and "--new-model" in res.output
    assert not (ws / "features" / "demo_wav2vec").exists()
    got = lwa_json(ws, *args, "--model", "demo_wav2vec", "--new-model")
    assert got["status"] == "extracted" and got["layers"] == ["T1"]
    assert (ws / "features" / "demo_wav2vec" / "dev-clean" / "sample-1" / "phone.h5").is_file()
    # Now a model of the workspace: extracting more of it needs no flag.
    assert lwa_json(ws, *args[:-1], "T0", "--model", "demo_wav2vec", "--force")["layers"] == [
        "T0"]
    # A name far from every known one is a model of the user's own: accepted as before.
    assert lwa_json(ws, *args, "--model", "my_model")["status"] == "extracted"


def test_not_found_lists_the_workspace_models(ws):
    res = lwa(ws, "cca", "phone", "--model", "demo_wav2vc2", code=2)
    assert "no features of model 'demo_wav2vc2'" in res.output
    assert "did you mean demo_wav2vec2?" in res.output
    assert f"it has features of {M}" in res.output
    other = lwa(ws, "mi", "phone", "--model", "hubert_bse", code=2)
    assert f"it has features of {M}" in other.output
    res = lwa(ws, "extract", "--model", M, "--split", "dev-clean", "--sample", "2", code=1)
    assert "no frame sample '2'" in res.output and "it has frame samples dev-clean/1" in res.output
    # A model of the workspace without the span asked for: the extract command, as before.
    res = lwa(ws, "cca", "word", "--model", M, code=1)
    assert f"lwa extract --model {M}" in res.output and "--span word" in res.output


def _complete(ws: Path, line: str, env: dict | None = None) -> list[str]:
    """Bash completion of `line` (the last word is the one completed) through the
    ``_LWA_COMPLETE`` protocol, in process."""
    from typer.testing import CliRunner

    from lwa_cli.cli.main import app

    words = ["lwa", "-w", str(ws), *line.split(" ")]
    result = CliRunner().invoke(app, [], prog_name="lwa", env={
        "_LWA_COMPLETE": "complete_bash", "COMP_WORDS": " ".join(words),
        "COMP_CWORD": str(len(words) - 1), **(env or {})})
    return result.stdout.split()


def test_completion_reads_the_workspace(built, ws):
    models = _complete(ws, "cca phone --model ")
    assert models[0] == M and "hubert_base" in models  # the workspace's, then the registry's
    assert _complete(ws, "results --model demo_") == [M]
    assert _complete(ws, f"cca phone --model {M} --layer ") == ["all", "T", "T0", "T1", "T2"]
    assert _complete(ws, "cca phone --layer T4")  # no model given: the registry's names
    assert _complete(ws, "cca phone --split dev-clean --sample ") == ["1"]
    assert _complete(ws, "report --format ") == ["png", "pdf", "svg"]
    splits = _complete(ws, "mi phone --train-split ")
    assert splits[0] == "dev-clean" and "sts" not in splits
    (ws / "sts" / "demo").mkdir(parents=True)  # a prepared STS set, as `prepare-sts` lays it
    (ws / "sts" / "demo" / "pairs.h5").write_bytes(b"")
    assert "sts" in _complete(ws, "mi phone --train-split ")
    # The workspace of LWA_WORKSPACE, when no -w is given.
    from typer.testing import CliRunner

    from lwa_cli.cli.main import app

    got = CliRunner().invoke(app, [], prog_name="lwa", env={
        "_LWA_COMPLETE": "complete_bash", "COMP_WORDS": "lwa cca phone --model demo",
        "COMP_CWORD": "4", "LWA_WORKSPACE": str(built / "ws")})
    assert got.stdout.split() == [M]


def test_fish_completes_checkpoint_paths(ws, tmp_path):
    """A real `lwa` subprocess: fish's script asks ``is-args`` first; exit 1 lets fish
    complete paths, exit 0 (and ``get-args``) gives lwa's own values."""
    import os
    import subprocess
    import sys

    def fish(action: str, line: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "_LWA_COMPLETE": "complete_fish", "LWA_WORKSPACE": str(ws),
               "_TYPER_COMPLETE_FISH_ACTION": action, "_TYPER_COMPLETE_ARGS": line,
               "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        return subprocess.run([sys.executable, "-m", "lwa_cli", *[]], env=env,
                              capture_output=True, text=True, timeout=120)

    assert fish("is-args", "lwa extract --checkpoint ./").returncode == 1
    assert fish("is-args", "lwa prepare-alignments --corpus /tm").returncode == 1
    assert fish("is-args", "lwa extract --model demo_").returncode == 0
    assert fish("get-args", "lwa extract --model demo_").stdout.split() == [M]
    script = (Path(__file__).resolve().parents[1] / "completions" / "lwa.fish").read_text()
    assert "_LWA_COMPLETE=complete_fish" in script and "is-args" in script


def _lwa_subprocess(ws: Path, *args: str):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-m", "lwa_cli", "-w", str(ws), "--threads", "1",
                           *args], env=env, capture_output=True, text=True, timeout=600)


def test_logged_cca_run_has_a_header_and_timestamped_progress_per_cv_candidate(ws):
    """stderr a pipe (a log): a header (version, command line, workspace) with the time,
    then progress lines per CV candidate (3 trials × 6 candidates per layer)."""
    import re

    from lwa_cli import __version__

    done = _lwa_subprocess(ws, "cca", "phone", "--model", M, "--layer", "T1,T2", "--json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 2
    lines = done.stderr.splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
    assert re.fullmatch(stamp + re.escape(f"lwa {__version__} | lwa -w {ws} --threads 1 cca "
                                          f"phone --model {M} --layer T1,T2 --json | "
                                          f"workspace {ws}"), lines[0]), lines[0]
    progress = [line for line in lines[1:] if "CV candidates" in line]
    assert progress and all(re.match(stamp + f"cca-phone {M}: ", p) for p in progress)
    counts = [int(re.search(r": (\d+)/36 CV candidates", p).group(1)) for p in progress]
    assert counts[0] == 0 and counts[-1] == 36 and counts == sorted(counts)
    assert any(0 < c < 18 for c in counts)
    # Reused layers: one header, the bar jumps a layer's share per layer; --quiet: nothing.
    again = _lwa_subprocess(ws, "cca", "phone", "--model", M, "--layer", "T1,T2")
    assert again.stderr.count(f"lwa {__version__} |") == 1
    assert "36/36 CV candidates (100%)" in again.stderr
    quiet = _lwa_subprocess(ws, "-q", "cca", "phone", "--model", M, "--layer", "T1")
    assert quiet.returncode == 0 and quiet.stderr == ""
    # A command that fails before any work: one line, no header.
    fail = _lwa_subprocess(ws, "cca", "phone", "--model", "nobody_at_all")
    assert fail.returncode == 2 and len(fail.stderr.strip().splitlines()) == 1


def test_status_counts_variants_as_variants(ws):
    from lwa_cli.workspace import Workspace
    from lwa_cli.workspace.results import save_result

    for tag in (None, "cos", "euclidean"):  # three variants of T1 and T2
        for layer in ("T2", "T1"):
            save_result(Workspace(ws), {
                "analysis": "awd", "model": M, "split": "dev-clean", "sample": "1",
                "layer": layer, "score": 0.5, "inputs": {}, "options": {},
                "provenance": "synthetic"}, tag=tag)
    (group,) = [g for g in lwa_json(ws, "status")["results"] if g["analysis"] == "awd"]
    assert group["fresh"] == 6 and group["layers"] == ["T1", "T2"]
    assert group["variants"] == ["cos", "default", "euclidean"]
    table = lwa(ws, "status").stdout
    assert "variants" in table and "cos, default, euclidean" not in table  # > 2: a range
    assert "cos…euclidean (3)" in table


def test_report_prints_paths_and_a_summary(ws, tmp_path):
    lwa(ws, "cca", "phone", "--model", M, "--layer", "T1")
    out = tmp_path / "rep"
    res = lwa(ws, "report", "--out", str(out), quiet=False)
    lines = res.stdout.splitlines()
    assert lines[0] == str(out / "index.html") and all(Path(p).is_file() for p in lines)
    assert "0." not in res.stdout  # no result rows
    assert "report of 1 result (1 model, 1 analysis): " in res.stderr
    assert "figures in" in res.stderr or "figure in" in res.stderr
    table = lwa(ws, "report", "--out", str(out), "--table", quiet=False)
    assert "cca-phone" in table.stdout and "T1" in table.stdout
    assert str(out / "index.html") in table.stderr


def test_every_command_takes_json():
    """Every lwa command prints a result or a summary: each takes --json (issue 19)."""
    import typer

    from lwa_cli.cli.main import app

    def leaves(command, path=()):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from leaves(sub, (*path, name))
        else:
            yield " ".join(path), command

    commands = dict(leaves(typer.main.get_command(app)))
    assert {"results", "report", "status", "embeddings one-hot", "extract"} <= set(commands)
    missing = [name for name, c in commands.items()
               if "--json" not in {opt for p in c.params for opt in p.opts}]
    assert missing == []
