"""Results outlive their features (`lwa clean features`), and one report across workspaces.

A removed feature file is judged by the fingerprint recorded when it was removed; a feature
file that is there is always read, so one extracted again from other weights still makes its
results stale. Several workspaces report together unless a model's weights differ (issue 19).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lwa_cli import results
from lwa_cli.demo.models import write_demo_models
from lwa_cli.errors import LwaError
from lwa_cli.workspace.inventory import REMOVED_STATE
from tests.cli_runner import lwa, lwa_json

M = "demo_wav2vec2"
H = "demo_hubert"
_BUILT: dict[str, Path] = {}


def _built(tmp_path_factory) -> Path:
    """Demo corpus, demo models (two seeds), a frame sample, frame features of M (T0-T2)
    and `cca intra` results T1, T2: built once, copied per test."""
    if "root" in _BUILT:
        return _BUILT["root"]
    root = tmp_path_factory.mktemp("clean")
    ws = root / "ws"
    lwa(ws, "demo", "corpus", str(root / "c"))
    write_demo_models(root / "m", seed=0)
    write_demo_models(root / "m1", seed=1)
    lwa(ws, "prepare-alignments", "--corpus", str(root / "c" / "LibriSpeech"), "--alignments",
        str(root / "c" / "alignments"), "--split", "dev-clean")
    lwa(ws, "sample", "frame", "--split", "dev-clean", "--utterances", "5")
    lwa(ws, "extract", "--model", M, "--checkpoint", str(root / "m" / M), "--split",
        "dev-clean", "--span", "frame", "--layer", "T0-T2")
    lwa(ws, "cca", "intra", "--model", M)
    _BUILT["root"] = root
    return root


@pytest.fixture()
def ws(tmp_path_factory) -> Path:
    root = _built(tmp_path_factory)
    dest = tmp_path_factory.mktemp("case")
    shutil.copytree(root / "ws", dest / "ws")
    for name in ("m", "m1", "c"):
        (dest / name).symlink_to(root / name)
    return dest / "ws"


def _extract(ws: Path, model: str, ckpt: Path, *extra: str) -> None:
    lwa(ws, "extract", "--model", model, "--checkpoint", str(ckpt), "--split", "dev-clean",
        "--span", "frame", "--layer", "T0-T2", *extra)


def _scores(ws) -> dict[tuple[str, str], float]:
    got = json.loads(lwa(ws, "results", "--format", "json").stdout)
    return {(r["model"], r["layer"]): r["mean"] for r in got}


FRAME = Path("features") / M / "dev-clean" / "sample-1" / "frame.h5"


def test_clean_keeps_results_current_and_status_says_so(ws):
    before = _scores(ws)
    assert sorted(before) == [(M, "T1"), (M, "T2")]
    size = (ws / FRAME).stat().st_size / 2**20
    dry = lwa_json(ws, "clean", "features", "--model", M, "--dry-run")
    assert [e["path"] for e in dry["removed"]] == [str(FRAME)] and (ws / FRAME).is_file()
    out = lwa_json(ws, "clean", "features", "--model", M, "--span", "frame")
    assert [e["path"] for e in out["removed"]] == [str(FRAME)]
    assert out["removed"][0]["size_mib"] == pytest.approx(size, abs=0.01)
    assert not (ws / FRAME).exists()
    record = json.loads((ws / "features" / "removed.json").read_text())
    assert record[str(FRAME)]["layers"] == ["T0", "T1", "T2"]
    assert record[str(FRAME)]["model"] == M
    assert _scores(ws) == before  # the same results, all current
    report = lwa_json(ws, "report", "--out", str(ws.parent / "rep"))
    assert report["n_stale"] == 0 and report["n_records"] == 2
    status = lwa_json(ws, "status")
    [feature] = status["features"]
    assert feature["state"] == REMOVED_STATE == "features removed (results kept)"
    assert feature["layers"] == ["T0", "T1", "T2"]
    [group] = status["results"]
    assert (group["fresh"], group["stale"]) == (2, 0)
    # A rerun of the analysis itself needs the features again: it says which command.
    res = lwa(ws, "cca", "intra", "--model", M, code=2)  # a usage error: no features
    assert "lwa extract" in res.output


def test_changed_features_after_clean_make_results_stale(ws):
    lwa(ws, "clean", "features")
    # Extracted again with the same weights: the same fingerprint, the results stay current.
    _extract(ws, M, ws.parent / "m" / M)
    assert len(_scores(ws)) == 2
    lwa(ws, "clean", "features")
    # Extracted again with other weights: a changed file, whatever the removal record says.
    _extract(ws, M, ws.parent / "m1" / M)
    status = lwa_json(ws, "status")
    assert [f["state"] for f in status["features"]] == ["complete"]
    [group] = status["results"]
    assert (group["fresh"], group["stale"]) == (0, 2)
    assert "changed" in group["why"]
    res = lwa(ws, "results", code=1)
    assert "stale" in res.output


def test_clean_with_no_match_lists_the_feature_files(ws):
    res = lwa(ws, "clean", "features", "--model", "hubert_bse", code=1)
    assert "no feature files match" in res.output and f"{M} dev-clean frame.h5" in res.output
    assert (ws / FRAME).is_file()


def _second(ws: Path, tmp: Path) -> Path:
    """A second workspace: the same samples, demo_hubert's frame features and cca intra."""
    other = tmp / "other"
    shutil.copytree(ws, other)
    shutil.rmtree(other / "results")
    shutil.rmtree(other / "features" / M)
    _extract(other, H, ws.parent / "m" / f"{H}.pt")
    lwa(other, "cca", "intra", "--model", H)
    return other


def test_one_report_across_workspaces(ws, tmp_path):
    other = _second(ws, tmp_path)
    df = results.load([ws, other])
    assert sorted(set(zip(df.model, df.layer, strict=True))) == [
        (H, "T1"), (H, "T2"), (M, "T1"), (M, "T2")]
    one = results.load(ws)
    assert df[df.model == M].score.tolist() == one.score.tolist()
    got = json.loads(lwa(ws, "results", "--from", str(ws), "--from", str(other), "--format",
                         "json").stdout)
    assert {r["model"] for r in got} == {M, H} and all(r["n"] == 1 for r in got)
    # After cleaning the features of both, the report across them still has every result.
    lwa(ws, "clean", "features")
    lwa(other, "clean", "features")
    rep = lwa_json(ws, "report", "--from", str(ws), "--from", str(other), "--out",
                   str(tmp_path / "rep"))
    assert rep["n_records"] == 4 and rep["n_stale"] == 0
    assert {r["model"] for r in rep["rows"]} == {M, H}
    res = lwa(ws, "report", "--from", str(ws), "--from", str(other), code=2)
    assert "--out" in res.output
    # Repeating the global -w would silently keep the last one: a usage error instead.
    res = lwa(ws, "-w", str(other), "results", code=2)
    assert "--from" in res.output


def test_same_model_in_two_workspaces_needs_the_same_weights(ws, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(ws, copy)
    # The same weights: the same results count once (n = 1, not 2).
    got = results.summary([ws, copy])
    assert sorted(got.layer) == ["T1", "T2"] and set(got.n) == {1}
    # Other weights under the same name: refused, naming the model and both workspaces.
    lwa(copy, "clean", "features")  # the fingerprint of removed features still counts
    _extract(copy, M, ws.parent / "m1" / M, "--force")
    with pytest.raises(LwaError, match=f"model {M} has other weights"):
        results.load([ws, copy])
    res = lwa(ws, "results", "--from", str(ws), "--from", str(copy), code=1)
    assert "other weights" in res.output and str(copy.resolve()) in res.output
