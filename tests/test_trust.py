"""Provenance-keyed reuse: a rerun serves a stored artefact only while its inputs are the same.

Each case is one of the ways stale results used to be served as current (issue 8).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.cli_runner import lwa as run_lwa
from tests.cli_runner import lwa_json

M = "demo_wav2vec2"


def lwa(ws: Path, *args: str, code: int = 0):
    """Not quiet: these tests read the status lines (stale → recomputed, removed, …)."""
    return run_lwa(ws, *args, code=code, quiet=False)


@pytest.fixture()
def ws(tmp_path_factory, built) -> Path:
    """A fresh small workspace per test: frame, phone and word samples, frame + token
    features of the demo wav2vec2 (module-built once, copied per test)."""
    return _copy(tmp_path_factory, built)


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_corpus, demo_models, demo_models_seed1) -> Path:
    root = tmp_path_factory.mktemp("trust")
    ws = root / "ws"
    (root / "c").symlink_to(demo_corpus.root)
    (root / "m").symlink_to(demo_models[M].parent)
    (root / "m1").symlink_to(demo_models_seed1[M].parent)
    lwa(ws, "prepare-alignments", "--corpus", str(root / "c" / "LibriSpeech"), "--alignments",
        str(root / "c" / "alignments"), "--split", "dev-clean")
    lwa(ws, "sample", "frame", "--split", "dev-clean", "--utterances", "6")
    lwa(ws, "sample", "phone", "--split", "dev-clean")
    lwa(ws, "sample", "word", "--split", "dev-clean", "--words", "15")
    for span in ("frame", "phone", "word"):
        lwa(ws, "extract", "--model", M, "--checkpoint", str(root / "m" / M), "--split",
            "dev-clean", "--span", span, "--layer", "T0-T2")
    return root


def _copy(tmp_path_factory, root: Path) -> Path:
    dest = tmp_path_factory.mktemp("case")
    shutil.copytree(root / "ws", dest / "ws")
    # Checkpoints are referenced by path; link them beside the copy.
    for name in ("m", "m1", "c"):
        (dest / name).symlink_to(root / name)
    return dest / "ws"


def ckpt(ws: Path, which: str = "m") -> str:
    return str(ws.parent / which / M)


def test_rerun_json_describes_every_layer_and_marks_cached(ws):
    first = lwa_json(ws, "cca", "intra", "--model", M)
    again = lwa_json(ws, "cca", "intra", "--model", M)
    assert [r["layer"] for r in first] == [r["layer"] for r in again] == ["T1", "T2"]
    assert [r["cached"] for r in first] == [False, False]
    assert [r["cached"] for r in again] == [True, True]
    assert [r["score"] for r in first] == [r["score"] for r in again]
    for r in again:
        assert r["options"] == {"base_layer": "T0", "mean_score": False, "metric": "pwcca",
                                "null_tol": None, "seed": 0}
        assert r["inputs"]["frame"]["path"].startswith("features/")


def test_extract_refuses_other_weights_without_force(ws):
    res = lwa(ws, "extract", "--model", M, "--checkpoint", ckpt(ws, "m1"), "--split",
              "dev-clean", "--span", "frame", "--layer", "T0-T2", code=1)
    assert "other weights" in res.output and "--force" in res.output
    same = lwa(ws, "extract", "--model", M, "--checkpoint", ckpt(ws), "--split", "dev-clean",
               "--span", "frame", "--layer", "T0-T2")
    assert "exists and is current" in same.output


def test_stale_after_extract_force_with_other_weights(ws):
    before = lwa_json(ws, "cca", "intra", "--model", M)
    lwa(ws, "extract", "--model", M, "--checkpoint", ckpt(ws, "m1"), "--split", "dev-clean",
        "--span", "frame", "--layer", "T0-T2", "--force")
    # The report leaves the now-stale results out, and says so.
    rep = lwa(ws, "report", "--out", str(ws.parent / "rep"), "--json", code=1)
    assert "stale" in rep.output
    res = lwa(ws, "cca", "intra", "--model", M)
    assert re.search(r"T1: stale \(frame changed\) → recomputed", res.output)
    after = lwa_json(ws, "cca", "intra", "--model", M)
    assert all(r["cached"] for r in after)
    assert after[0]["score"] != before[0]["score"]
    assert after[0]["inputs"]["frame"]["fingerprint"] != before[0]["inputs"]["frame"][
        "fingerprint"]


def test_sample_force_removes_dependent_features_and_results(ws):
    lwa_json(ws, "cca", "intra", "--model", M)
    res = lwa(ws, "sample", "frame", "--split", "dev-clean", "--utterances", "5", "--force")
    assert "removed 1 feature file(s)" in res.output and "2 result(s)" in res.output
    assert "features/demo_wav2vec2/dev-clean/sample-1/frame.h5" in res.output
    assert "results/cca-intra/demo_wav2vec2/dev-clean/sample-1/T1.json" in res.output
    assert not list((ws / "results" / "cca-intra").rglob("*.json"))
    status = lwa_json(ws, "status")
    assert not [f for f in status["features"] if f["file"] == "frame.h5"]
    assert {f["file"] for f in status["features"]} == {"phone.h5", "word.h5"}


def test_one_hot_targets_are_part_of_the_provenance(ws):
    without = lwa_json(ws, "cca", "word", "--model", M, "--layer", "T1")
    assert without[0]["targets"] == "one-hot (labels of the sample)"
    lwa(ws, "embeddings", "one-hot", "--words", "10")  # a smaller vocabulary: other targets
    res = lwa(ws, "cca", "word", "--model", M, "--layer", "T1")
    assert "T1: stale (targets changed) → recomputed" in res.output
    with_map = lwa_json(ws, "cca", "word", "--model", M, "--layer", "T1")
    assert with_map[0]["cached"] and with_map[0]["targets"] == "one-hot-word"
    assert with_map[0]["score"] != without[0]["score"]
    assert with_map[0]["segments_dropped"] > 0


def test_replacing_an_embedding_map_needs_force(ws, tmp_path):
    first = lwa_json(ws, "embeddings", "one-hot", "--words", "10")
    assert [m["status"] for m in first] == ["stored", "stored"] and first[1]["words"] == 10
    again = lwa_json(ws, "embeddings", "one-hot", "--words", "10")  # same maps: kept
    assert [m["status"] for m in again] == ["exists", "exists"]
    scored = lwa_json(ws, "cca", "word", "--model", M, "--layer", "T1")
    res = lwa(ws, "embeddings", "one-hot", "--words", "12", code=1)
    assert "one-hot-word map" in res.output and "(10 words)" in res.output
    assert "--force" in res.output and "stale" in res.output
    assert lwa_json(ws, "cca", "word", "--model", M, "--layer", "T1")[0]["cached"]  # intact
    replaced = lwa_json(ws, "embeddings", "one-hot", "--words", "12", "--force")
    assert [m["status"] for m in replaced] == ["exists", "stored"]
    assert replaced[1]["words"] == 12
    assert not lwa_json(ws, "cca", "word", "--model", M, "--layer", "T1")[0]["cached"]
    assert scored[0]["targets"] == "one-hot-word"
    # A word-vector map read from another file is not replaced without --force either.
    for shift, name in ((0.5, "a.txt"), (1.5, "b.txt")):
        (tmp_path / name).write_text("".join(
            f"w{i} " + " ".join(f"{i * shift + j:.2f}" for j in range(4)) + "\n"
            for i in range(5)))
    glove = ["embeddings", "glove", "--all-words", "--path"]
    lwa(ws, *glove, str(tmp_path / "a.txt"))
    res = lwa(ws, *glove, str(tmp_path / "b.txt"), code=1)
    assert "glove map" in res.output and "(5 words)" in res.output and "--force" in res.output
    assert lwa_json(ws, *glove, str(tmp_path / "a.txt"))[0]["status"] == "exists"
    assert lwa_json(ws, *glove, str(tmp_path / "b.txt"), "--force")[0]["status"] == "stored"


def test_options_are_part_of_the_provenance(ws):
    mi = ["mi", "phone", "--model", M, "--layer", "T1", "--train-split", "dev-clean",
          "--eval-split", "none", "--clusters", "12"]
    seed0 = lwa_json(ws, *mi)
    res = lwa(ws, *mi, "--seed", "5")
    assert "options changed: seed 0 → 5" in res.output
    seed5 = lwa_json(ws, *mi, "--seed", "5")
    assert seed5[0]["cached"] and seed5[0]["options"]["seed"] == 5
    assert seed5[0]["score"] != seed0[0]["score"]


def test_status_reports_fresh_and_stale(ws):
    lwa_json(ws, "cca", "intra", "--model", M)
    status = lwa_json(ws, "status")
    assert [a["split"] for a in status["alignments"]] == ["dev-clean"]
    assert {(s["kind"], s["state"]) for s in status["samples"]} == {
        ("frame", "current"), ("phone", "current"), ("word", "current")}
    frame = next(f for f in status["features"] if f["file"] == "frame.h5")
    assert frame["state"] == "complete" and frame["layers"] == ["T0", "T1", "T2"]
    assert frame["rows"] > 0 and frame["size_mib"] > 0 and frame["in_use"] is False
    (group,) = status["results"]
    assert (group["analysis"], group["fresh"], group["stale"]) == ("cca-intra", 2, 0)
    lwa(ws, "extract", "--model", M, "--checkpoint", ckpt(ws, "m1"), "--split", "dev-clean",
        "--span", "frame", "--layer", "T0-T2", "--force")
    (group,) = lwa_json(ws, "status")["results"]
    assert (group["fresh"], group["stale"]) == (0, 2)
    assert "frame changed" in group["why"]
    table = lwa(ws, "status").stdout
    assert "cca-intra" in table and "frame.h5" in table


def test_alignments_that_do_not_fit_their_audio(tmp_path):
    from lwa_cli.demo.corpus import write_demo_corpus

    written = write_demo_corpus(tmp_path / "c")
    grids = sorted((written.alignments_root / "dev-clean").rglob("*.TextGrid"))
    bad = grids[0]
    text = bad.read_text()
    end = re.search(r"xmax = ([0-9.]+)", text).group(1)
    bad.write_text(text.replace(f"xmax = {end}", "xmax = 11.0"))
    args = ["prepare-alignments", "--corpus", str(written.corpus_root), "--alignments",
            str(written.alignments_root), "--split", "dev-clean"]
    res = lwa(tmp_path / "ws", *args, code=1)
    assert bad.name in res.output and "11.00 s" in res.output and "--max-mismatch" in res.output
    res = lwa(tmp_path / "ws", *args, "--skip-bad", "--json")
    (summary,) = json.loads(res.stdout)
    assert summary["skipped_bad"] == 1 and summary["utterances"] == len(grids) - 1
    lwa(tmp_path / "ws2", *args, "--max-mismatch", "20")  # a loose tolerance lets it in


def test_extract_names_examples_of_dropped_segments(ws):
    from lwa_cli.pipeline.rows import SegmentProblems

    problems = SegmentProblems()
    import numpy as np

    problems.add("u1", np.array(["a", "b", "c"]), np.array([0.0, 1.0, 2.0]),
                 np.array([0.5, 1.5, 2.5]), np.array([0, 1, 2], dtype=np.int8), 60)
    assert (problems.clipped, problems.dropped) == (1, 1)
    assert problems.examples == ["u1 b 1.00-1.50 s (clipped; 60 frames)",
                                 "u1 c 2.00-2.50 s (dropped; 60 frames)"]
    assert "e.g. u1 b 1.00-1.50 s" in problems.message()


def test_misspelt_registry_name_gets_a_hint(ws):
    res = lwa(ws, "extract", "--model", "wavlm_base_plus_randm", "--split", "dev-clean",
              code=2)
    assert "did you mean wavlm_base_plus_random?" in res.output
    args = ["extract", "--model", "hubert_bse", "--checkpoint", ckpt(ws), "--split",
            "dev-clean", "--layer", "T0"]
    res = lwa(ws, *args, code=2)  # a likely typo does not start a new model ...
    assert "did you mean hubert_base?" in res.output and "--new-model" in res.output
    assert not (ws / "features" / "hubert_bse").exists()
    res = lwa(ws, *args, "--new-model")  # ... unless asked to
    assert "did you mean hubert_base?" in res.output
