"""The per-layer result loop every analysis shares (`pipeline/results.py: score_layers`):
reuse, stale with its reason, ``force``, an input file that disappears, and the write lock.

The scored "analysis" is a small pure function of the layer name, the options and the
input's bytes, so every expected number is computed here independently.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from rich.console import Console

from lwa_cli.pipeline.results import ResultSpec, artefact_input, score_layers
from lwa_cli.progress import Reporter, RichReporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.locks import ArtefactBusyError, lock_path, write_lock, writer_pid
from lwa_cli.workspace.provenance import FreshnessChecker
from lwa_cli.workspace.results import load_result

ANALYSIS, MODEL, SPLIT, SAMPLE = "mi-phone", "tiny", "dev-clean", "1"
LAYERS = ["T0", "T1", "T2"]


class Recorder(Reporter):
    """Keeps the info lines a run reports."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)


def write_input(ws: Workspace, values: np.ndarray) -> Path:
    """An embeddings-like artefact: an HDF5 file whose ``fingerprint`` attr hashes its data."""
    path = ws.root / "embeddings" / "toy.h5"
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f["values"] = values
        f.attrs["fingerprint"] = hashlib.sha256(values.tobytes()).hexdigest()
    return path


def spec_for(ws: Workspace, path: Path, seed: int = 0) -> ResultSpec:
    with h5py.File(path, "r") as f:
        fingerprint = f.attrs["fingerprint"]
    return ResultSpec(ANALYSIS, MODEL, SPLIT, SAMPLE,
                      inputs={"embeddings": artefact_input(ws, "embeddings", path, fingerprint)},
                      options={"seed": seed, "k": 3})


def expected(path: Path, layer: str, seed: int) -> float:
    """The toy score: mean of the input values times (layer index + 1), plus the seed."""
    with h5py.File(path, "r") as f:
        values = f["values"][...]
    return float(values.mean() * (int(layer[1:]) + 1) + seed)


class Scorer:
    """`score(layer)` for `score_layers`; counts its calls and reads the input every time."""

    def __init__(self, path: Path, seed: int = 0) -> None:
        self.path, self.seed, self.calls = path, seed, []

    def __call__(self, layer: str) -> dict[str, float]:
        self.calls.append(layer)
        return {"score": expected(self.path, layer, self.seed)}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def data(ws: Workspace) -> Path:
    return write_input(ws, np.arange(1.0, 5.0))  # mean 2.5


def test_first_run_computes_and_stores_every_layer(ws, data):
    scorer = Scorer(data)
    records = score_layers(ws, spec_for(ws, data), LAYERS, scorer)
    assert scorer.calls == LAYERS
    assert [r["layer"] for r in records] == LAYERS
    assert [r["score"] for r in records] == [2.5, 5.0, 7.5]
    assert all(r["cached"] is False for r in records)
    for rec in records:
        stored = json.loads(Path(rec["file"]).read_text())
        assert stored["score"] == rec["score"] and stored["options"] == {"seed": 0, "k": 3}
        assert stored["inputs"]["embeddings"]["path"] == "embeddings/toy.h5"
        assert stored["provenance"] == rec["provenance"] and "cached" not in stored


def test_a_current_result_is_reused_without_scoring(ws, data):
    first = score_layers(ws, spec_for(ws, data), LAYERS, Scorer(data))
    scorer, log = Scorer(data), Recorder()
    again = score_layers(ws, spec_for(ws, data), LAYERS, scorer, reporter=log)
    assert scorer.calls == [] and log.lines == []
    assert all(r["cached"] is True for r in again)
    assert [r["score"] for r in again] == [r["score"] for r in first]
    assert [r["wall_seconds"] for r in again] == [r["wall_seconds"] for r in first]


def test_changed_options_make_a_result_stale_and_say_why(ws, data):
    score_layers(ws, spec_for(ws, data, seed=0), LAYERS, Scorer(data, seed=0))
    scorer, log = Scorer(data, seed=5), Recorder()
    records = score_layers(ws, spec_for(ws, data, seed=5), ["T1", "T2"], scorer, reporter=log)
    assert scorer.calls == ["T1", "T2"]
    assert log.lines == ["T1: stale (options changed: seed 0 → 5) → recomputed",
                         "T2: stale (options changed: seed 0 → 5) → recomputed"]
    assert [r["score"] for r in records] == [10.0, 12.5] and not any(r["cached"] for r in records)
    stored = load_result(ws, ANALYSIS, MODEL, SPLIT, SAMPLE, "T1")
    assert stored["score"] == 10.0 and stored["options"]["seed"] == 5
    # T0 was not requested: its seed-0 result stays as it was
    assert load_result(ws, ANALYSIS, MODEL, SPLIT, SAMPLE, "T0")["score"] == 2.5


def test_a_changed_input_is_named_and_printed_by_the_cli_reporter(ws, data):
    score_layers(ws, spec_for(ws, data), ["T0"], Scorer(data))
    write_input(ws, np.arange(1.0, 9.0))  # mean 4.5: a new fingerprint
    err = io.StringIO()
    reporter = RichReporter(Console(file=err, width=200, force_terminal=False))
    [rec] = score_layers(ws, spec_for(ws, data), ["T0"], Scorer(data), reporter=reporter)
    assert rec["score"] == 4.5 and rec["cached"] is False
    assert "T0: stale (embeddings changed) → recomputed" in err.getvalue().splitlines()


def test_force_recomputes_a_current_result_silently(ws, data):
    first = score_layers(ws, spec_for(ws, data), LAYERS, Scorer(data))
    scorer, log = Scorer(data), Recorder()
    records = score_layers(ws, spec_for(ws, data), ["T0", "T2"], scorer, force=True,
                           reporter=log)
    assert scorer.calls == ["T0", "T2"] and log.lines == []  # nothing is stale: no reason
    assert [r["cached"] for r in records] == [False, False]
    assert [r["score"] for r in records] == [2.5, 7.5]
    assert records[0]["provenance"] == first[0]["provenance"]
    assert records[0]["file"] == first[0]["file"]  # rewritten in place, not a second file
    results = sorted(p.name for p in (ws.root / "results").rglob("*.json"))
    assert results == ["T0.json", "T1.json", "T2.json"]


def test_an_input_that_disappears(ws, data):
    """The loop trusts fingerprints and never opens inputs: a stored result stays reusable
    (freshness checks say the file is gone); a layer that must be scored fails in `score`,
    leaving the layers done before it stored, nothing for it, and no lock held."""
    score_layers(ws, spec_for(ws, data), ["T0"], Scorer(data))
    spec = spec_for(ws, data)
    data.unlink()
    scorer = Scorer(data)
    with pytest.raises(FileNotFoundError):
        score_layers(ws, spec, LAYERS, scorer)
    assert scorer.calls == ["T1"]  # T0 reused; T1 tried to read the input
    assert load_result(ws, ANALYSIS, MODEL, SPLIT, SAMPLE, "T0")["score"] == 2.5
    assert load_result(ws, ANALYSIS, MODEL, SPLIT, SAMPLE, "T1") is None
    t1 = ws.result_path(ANALYSIS, MODEL, SPLIT, SAMPLE, "T1")
    assert not t1.exists() and not list(t1.parent.glob("*.tmp*"))
    assert writer_pid(t1) is None
    stored = load_result(ws, ANALYSIS, MODEL, SPLIT, SAMPLE, "T0")
    assert FreshnessChecker(ws).stale_reason(stored) == "embeddings: embeddings/toy.h5 is gone"
    # put it back: the run completes, T0 still from the store
    write_input(ws, np.arange(1.0, 5.0))
    records = score_layers(ws, spec, LAYERS, Scorer(data))
    assert [r["cached"] for r in records] == [True, False, False]
    assert [r["score"] for r in records] == [2.5, 5.0, 7.5]


def test_each_layer_is_scored_and_stored_under_its_write_lock(ws, data):
    held = []

    def score(layer: str) -> dict[str, float]:
        path = ws.result_path(ANALYSIS, MODEL, SPLIT, SAMPLE, layer)
        held.append((layer, lock_path(path).is_file(), writer_pid(path) is not None))
        return {"score": 1.0}

    score_layers(ws, spec_for(ws, data), ["T0", "T1"], score)
    assert held == [("T0", True, True), ("T1", True, True)]
    assert writer_pid(ws.result_path(ANALYSIS, MODEL, SPLIT, SAMPLE, "T0")) is None


def test_a_result_held_by_another_writer_is_refused_then_waited_for(ws, data):
    t1 = ws.result_path(ANALYSIS, MODEL, SPLIT, SAMPLE, "T1")
    scorer = Scorer(data)
    with write_lock(t1), pytest.raises(ArtefactBusyError, match="in use by another lwa process"):
        score_layers(ws, spec_for(ws, data), LAYERS, scorer)
    assert scorer.calls == ["T0"]  # stopped at T1 before scoring it
    assert load_result(ws, ANALYSIS, MODEL, SPLIT, SAMPLE, "T1") is None

    # with --wait (Workspace(wait=True)) the run blocks until the other writer lets go
    waiting = Workspace(ws.root, wait=True)
    released = threading.Event()

    def hold() -> None:
        with write_lock(t1):
            started.set()
            time.sleep(0.3)
            released.set()

    started = threading.Event()
    other = threading.Thread(target=hold)
    other.start()
    started.wait(5)
    scorer = Scorer(data)

    def score(layer: str) -> dict[str, float]:
        if layer == "T1":
            assert released.is_set()  # scored only after the other writer released it
        return scorer(layer)

    records = score_layers(waiting, spec_for(waiting, data), LAYERS, score)
    other.join()
    assert scorer.calls == ["T1", "T2"]  # T0 was stored by the refused run and is current
    assert [r["cached"] for r in records] == [True, False, False]
    assert [r["score"] for r in records] == [2.5, 5.0, 7.5]
