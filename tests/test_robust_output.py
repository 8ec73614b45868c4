"""Issue 24: user text is never markup, closed pipes are not errors, and the newer commands
keep the error contract (status of in-use files, combine's missing parts, overlapping
intervals, demo DEST).

Where a pipe or the console is involved the tests run the real `lwa` executable.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import h5py
import pytest
from rich.console import Console

from lwa_cli.cli.common import CLOSED_PIPE_EXIT, LITERAL, err_console, out_console
from lwa_cli.data.intervals import read_intervals, score_interval_dirs
from lwa_cli.errors import LwaError
from lwa_cli.pipeline.combine import combine_features, missing_parts
from lwa_cli.progress import PlainProgress, Reporter, RichReporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import partial_path
from lwa_cli.workspace.locks import write_lock, writer_pid
from lwa_cli.workspace.results import save_result
from tests.cli_runner import lwa_command, lwa_env
from tests.cli_runner import run_lwa_process as lwa

#: Everything rich would read as markup, emoji or an escape.
HOSTILE = r"x[/b] [b]bold[/b] [red]:b: \[ok] a\b ["
M = "demo_wav2vec2"


def lwa_closed_stdout(*args: str) -> subprocess.CompletedProcess:
    """Run lwa with stdout a pipe whose reader is already gone (`lwa … | true`)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([*lwa_command(), *args], stdout=write, stderr=subprocess.PIPE,
                              text=True, env=lwa_env(), timeout=120, stdin=subprocess.DEVNULL)
    finally:
        os.close(write)


def _clean(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert "MarkupError" not in done.stderr


# --- a workspace with results, one of them stale with a hostile input path -----------------


@pytest.fixture()
def results_ws(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws").ensure()
    for t in range(3):
        save_result(ws, {"analysis": "cca-phone", "model": "hubert_base", "split": "dev-clean",
                         "sample": "1", "layer": f"T{t}", "score": 0.25 + 0.125 * t,
                         "inputs": {}, "options": {}, "provenance": "synthetic"})
    save_result(ws, {"analysis": "mi-phone", "model": "hubert_base", "split": "dev-clean",
                     "sample": "1", "layer": "T0", "score": 0.5, "options": {},
                     "provenance": "synthetic",
                     "inputs": {"features": {"kind": "features",
                                             "path": f"features/{HOSTILE}.h5",
                                             "fingerprint": "abc"}}})
    return ws


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


# --- 1. literal output ---------------------------------------------------------------------


def test_the_consoles_are_literal_so_no_message_can_be_markup():
    for console in (err_console, out_console, RichReporter().console):
        with console.capture() as cap:
            console.print(HOSTILE, soft_wrap=True)
        assert cap.get() == HOSTILE + "\n"


def test_status_table_json_and_results_warning_print_user_text_verbatim(results_ws):
    table = lwa("-w", str(results_ws.root), "status")
    assert table.returncode == 0, table.stderr
    _clean(table)
    assert f"features/{HOSTILE}.h5" in table.stdout  # the table's "why" cell
    as_json = lwa("-w", str(results_ws.root), "status", "--json")
    assert as_json.returncode == 0, as_json.stderr
    groups = {g["analysis"]: g for g in json.loads(as_json.stdout)["results"]}
    assert groups["mi-phone"]["stale"] == 1 and f"features/{HOSTILE}.h5" in \
        groups["mi-phone"]["why"]
    assert groups["cca-phone"]["fresh"] == 3
    shown = lwa("-w", str(results_ws.root), "results")
    assert shown.returncode == 0, shown.stderr
    _clean(shown)
    warning = [line for line in shown.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and f"features/{HOSTILE}.h5" in warning[0]
    assert "0.3750" in shown.stdout or "0.375" in shown.stdout  # cca-phone T1


def test_error_with_markup_in_an_interval_file_is_one_literal_line(tmp_path):
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    ref.mkdir()
    hyp.mkdir()
    (ref / "u1.txt").write_text("0 5 a\n5 12 b\n")
    (hyp / "u1.txt").write_text("0 5 a\n12 [/b] oops\n")
    done = lwa("-q", "segment", "score", "--ref", str(ref), "--hyp", str(hyp))
    assert done.returncode == 1
    _clean(done)
    assert done.stderr == (f"error: {hyp / 'u1.txt'}:2: start and end must be integer frames, "
                           "got '12 [/b] oops'\n")


def test_error_names_the_path_given_even_with_brackets_colons_and_backslashes(tmp_path):
    hyp = tmp_path / "hyp"
    hyp.mkdir()
    (hyp / "u1.txt").write_text("0 5 a\n5 12 b\n")
    ref = tmp_path / "seg" / "ref[v2]:b:\\[/b]"
    done = lwa("segment", "score", "--ref", str(ref), "--hyp", str(hyp))
    assert done.returncode == 1
    _clean(done)
    assert done.stderr.strip() == f"error: reference interval folder not found: {ref}"


@pytest.mark.parametrize("option, value", [("--ylim", "cca-phone=a:b"),
                                           ("--baseline", "wordsim=GloVe:abc")])
def test_option_values_with_emoji_codes_are_echoed_as_given(tmp_path, option, value):
    done = lwa("-w", str(tmp_path / "ws"), "report", option, value)
    assert done.returncode == 2
    _clean(done)
    assert f"error: {option} {value}:" in done.stderr
    assert "\U0001f171" not in done.stderr  # :b: as the emoji


def test_progress_lines_and_bars_keep_user_text(capsys):
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=200, color_system=None, **LITERAL)
    with RichReporter(console).task(HOSTILE, 2, "utt") as advance:
        advance(1)
        advance(1)
    assert HOSTILE in buf.getvalue()
    log = Console(file=io.StringIO(), width=200)  # even a markup console: plain lines are text
    PlainProgress(log, HOSTILE, 4, "utt", clock=lambda: 0.0,
                  wall=lambda: datetime(2026, 1, 2, 3, 4, 5))
    assert log.file.getvalue().startswith(f"2026-01-02 03:04:05 {HOSTILE}: 0/4 utt (0%)")
    reporter = RichReporter()  # its own default console: stderr
    reporter.warn(HOSTILE)
    reporter.info(HOSTILE)
    assert capsys.readouterr().err == f"warning: {HOSTILE}\n{HOSTILE}\n"


# --- 2. closed pipes -----------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], ["segment", "--help"], ["status", "--help"],
                                  ["demo"]], ids=" ".join)
def test_help_into_a_closed_pipe_exits_zero_silently(args):
    done = lwa_closed_stdout(*args)
    assert (done.returncode, done.stderr) == (0, "")


def test_help_piped_to_a_reader_that_leaves_keeps_pipefail_happy():
    script = f"set -o pipefail; {' '.join(lwa_command())} --help | head -c 1 >/dev/null"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=lwa_env(),
                          timeout=120)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize("args", [["status", "--json"], ["status"], ["results", "--format", "csv"],
                                  ["results"]], ids=" ".join)
def test_data_commands_into_a_closed_pipe_exit_141_quietly_and_write_nothing(results_ws, args):
    before = _tree(results_ws.root)
    done = lwa_closed_stdout("-q", "-w", str(results_ws.root), *args)
    assert (done.returncode, done.stderr) == (CLOSED_PIPE_EXIT, "")
    assert _tree(results_ws.root) == before


@pytest.mark.parametrize("as_json", [True, False])
def test_segment_score_into_a_closed_pipe(tmp_path, as_json):
    for side in ("ref", "hyp"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "u1.txt").write_text("0 5 a\n5 12 b\n")
    done = lwa_closed_stdout("segment", "score", "--ref", str(tmp_path / "ref"), "--hyp",
                             str(tmp_path / "hyp"), *(["--json"] if as_json else []))
    assert (done.returncode, done.stderr) == (CLOSED_PIPE_EXIT, "")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["hyp", "ref", "u1.txt", "u1.txt"]


# --- 3.-4. status of an extraction in progress, combine with a missing part ----------------


@pytest.fixture(scope="module")
def base(tmp_path_factory, demo_corpus, demo_models) -> Path:
    """Demo corpus + models (shared, linked as c/ and m/), a workspace with a 6-utterance
    frame sample."""
    from tests.conftest import linked_frame_workspace

    return linked_frame_workspace(tmp_path_factory.mktemp("robust"), demo_corpus,
                                  demo_models[M].parent)


@pytest.fixture()
def ws(base, tmp_path) -> Workspace:
    shutil.copytree(base / "ws", tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def _extract(ws: Workspace, base: Path, **kw):
    from lwa_cli.pipeline.extract import extract_features

    return extract_features(ws, model=M, checkpoint=base / "m" / M, split="dev-clean",
                            sample="1", span="frame", layers=["T0-T1"], device="cpu", **kw)


class _StopAfter(Reporter):
    """Interrupts an extraction after `n` utterances (as a kill would)."""

    def __init__(self, n: int) -> None:
        self.n = n

    @contextmanager
    def task(self, description: str, total, unit: str = "") -> Iterator:
        done = 0

        def advance(k=1, seconds=0.0):
            nonlocal done
            done += k
            if done >= self.n:
                raise KeyboardInterrupt

        yield advance


def test_status_reads_a_partial_file_that_a_writer_holds_open(ws, base):
    target = ws.features_path(M, "dev-clean", "1", "frame")
    with pytest.raises(KeyboardInterrupt):
        _extract(ws, base, reporter=_StopAfter(2))
    assert partial_path(target).is_file() and not target.exists()
    with write_lock(target, what="feature file"), h5py.File(partial_path(target), "r+"):
        assert writer_pid(target) == os.getpid()
        done = lwa("-w", str(ws.root), "status", "--json")
        table = lwa("-w", str(ws.root), "status")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["features"]
    assert row["file"] == "frame.h5.partial" and row["in_use"] is True
    assert row["state"] == f"partial (2 of 6 utterances, in use by pid {os.getpid()})"
    with h5py.File(partial_path(target), "r") as f:  # extents run ahead of the rows
        finished = int(f["units/rows"][:, 0].sum())
        assert 0 < finished < f[json.loads(f.attrs["datasets"])[0]].shape[0]
    assert row["layers"] == ["T0", "T1"] and row["rows"] == finished
    assert f"in use by pid {os.getpid()}" in table.stdout
    assert writer_pid(target) is None  # released
    after = lwa("-w", str(ws.root), "status", "--json")
    (row,) = json.loads(after.stdout)["features"]
    assert row["state"] == "partial (2 of 6 utterances)" and row["in_use"] is False


def test_combine_names_the_missing_shard_and_the_command_that_makes_it(ws, base):
    _extract(ws, base, shard=(0, 3))
    _extract(ws, base, shard=(2, 3))
    with pytest.raises(LwaError) as err:
        combine_features(ws, model=M, split="dev-clean", sample="1", span="frame")
    message = str(err.value)
    assert "the parts cover 4 of 6 utterances: missing shard 1/3;" in message
    assert (f"`lwa extract --model {M} --checkpoint {base / 'm' / M} --split dev-clean "
            "--sample 1 --span frame --layer T0-T1 --shard 1/3`") in message
    assert "have:" not in message
    _extract(ws, base, shard=(1, 3))  # the command it names completes the set
    summary = combine_features(ws, model=M, split="dev-clean", sample="1", span="frame")
    assert (summary.parts, summary.units) == (3, 6)


def test_missing_parts_of_subsets_and_shards():
    parts = [{"subset": 0, "shard": None}, {"subset": 2, "shard": [0, 2]},
             {"subset": 4, "shard": [1, 2]}, {"subset": 4, "shard": [0, 2]}]
    assert missing_parts(parts, 5) == [(1, None), (2, (1, 2)), (3, None)]
    assert missing_parts([{"subset": None, "shard": [1, 4]}], 0) == \
        [(None, (0, 4)), (None, (2, 4)), (None, (3, 4))]
    assert missing_parts([{"subset": None, "shard": None}], 0) == []


# --- 5. overlapping and unsorted intervals --------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("0 7 w\n5 13 w\n", r"x\.txt:2: interval 5 13 overlaps the previous one \(0 7\)"),
    ("0 5 a\n\n5 9 b\n2 4 c\n", r"x\.txt:4: intervals out of time order \(2 4 after 5 9\)"),
    ("3 9 a\n2 10 b\n", r"x\.txt:2: intervals out of time order"),
])
def test_interval_reader_refuses_overlap_and_disorder_at_file_line(tmp_path, text, message):
    (tmp_path / "x.txt").write_text(text)
    with pytest.raises(LwaError, match=message):
        read_intervals(tmp_path / "x.txt")


def test_overlap_is_scored_with_allow_overlap_and_counted(tmp_path):
    for side in ("ref", "hyp"):
        (tmp_path / side).mkdir()
    (tmp_path / "ref" / "u1.txt").write_text("0 5 a\n5 13 b\n13 20 c\n")
    (tmp_path / "hyp" / "u1.txt").write_text("0 7 w\n5 13 w\n13 20 w\n")
    refused = lwa("segment", "score", "--ref", str(tmp_path / "ref"), "--hyp",
                  str(tmp_path / "hyp"))
    assert refused.returncode == 1
    _clean(refused)
    assert f"{tmp_path / 'hyp' / 'u1.txt'}:2: interval 5 13 overlaps" in refused.stderr
    assert "--allow-overlap" in refused.stderr
    res = score_interval_dirs(tmp_path / "ref", tmp_path / "hyp", 0, allow_overlap=True)
    assert res.overlaps == 1
    # boundaries at 6, 12 (ref: 4, 12); the last hypothesis boundary (19) is dropped
    assert (res.boundary.n_pred, res.boundary.n_ref, res.boundary.n_hit_pred) == (2, 2, 1)
    shown = lwa("segment", "score", "--ref", str(tmp_path / "ref"), "--hyp",
                str(tmp_path / "hyp"), "--tolerance", "0", "--allow-overlap", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["overlaps"] == 1
    assert "warning: 1 interval(s) overlap the previous one" in shown.stderr


# --- 6. demo DEST ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["sts", "corpus", "models", "oracles"])
def test_demo_refuses_a_file_as_dest_in_one_line(tmp_path, command):
    dest = tmp_path / "taken"
    dest.write_text("mine\n")
    done = lwa("demo", command, str(dest))
    assert done.returncode == 1
    _clean(done)
    assert done.stderr.strip() == (f"error: DEST {dest} exists and is not a folder; give a "
                                   "folder (new or existing) to write the demo files into")
    assert dest.read_text() == "mine\n"
    inside = lwa("demo", command, str(dest / "sub"))
    assert inside.returncode == 1 and len(inside.stderr.strip().splitlines()) == 1
    assert f"is inside {dest}, a file" in inside.stderr
