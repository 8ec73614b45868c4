"""`lwa similarity` end to end on the demo models: stored pair results, reuse, `lwa results`
and the report's heatmaps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lwa_cli.analysis.similarity import similarity_map
from lwa_cli.workspace.features import FeatureFile
from tests.cli_runner import lwa, lwa_json

A, B = "demo_wav2vec2", "demo_hubert"


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("similarity")
    ws = root / "ws"
    lwa(ws, "demo", "corpus", str(root / "c"))
    lwa(ws, "demo", "models", str(root / "m"))
    lwa(ws, "prepare-alignments", "--corpus", str(root / "c" / "LibriSpeech"), "--alignments",
        str(root / "c" / "alignments"), "--split", "dev-clean")
    lwa(ws, "sample", "frame", "--split", "dev-clean", "--utterances", "4")
    lwa(ws, "sample", "phone", "--split", "dev-clean")
    for model, ckpt in ((A, root / "m" / A), (B, root / "m" / "demo_hubert.pt")):
        for span in ("frame", "phone"):
            lwa(ws, "extract", "--model", model, "--checkpoint", str(ckpt), "--split",
                "dev-clean", "--span", span)
    return ws


def test_similarity_map_of_two_demo_models_is_stored_per_pair(ws):
    args = ["similarity", "--model", A, "--other-model", B, "--measure", "cka",
            "--measure", "mknn", "--measure", "procrustes", "--knn-rows", "200", "--k", "5"]
    records = lwa_json(ws, *args)
    # demo wav2vec 2.0 has T0..T3, demo HuBERT T0..T2: 4 × 3 pairs per measure
    assert len(records) == 3 * 12
    assert {r["metric"] for r in records} == {"cka", "mknn", "procrustes"}
    assert not any(r["cached"] for r in records)
    cka = {(r["layer"], r["other_layer"]): r for r in records if r["metric"] == "cka"}
    assert set(cka) == {(f"T{i}", f"T{j}") for i in range(4) for j in range(3)}
    first = cka[("T1", "T2")]
    assert first["other_model"] == B and first["span"] == "frame"
    assert Path(first["file"]).name == "T1.vs-demo_hubert-T2-cka.json"
    assert all(0 < r["score"] <= 1 for r in cka.values())
    mknn = [r for r in records if r["metric"] == "mknn"]
    assert all(r["rows_used"] == 200 and r["n"] > 200 for r in mknn)

    # the stored score is the numerics' value on the frames both files share
    ws_dir = Path(ws)
    fa = FeatureFile(next((ws_dir / "features" / A).rglob("frame.h5")))
    fb = FeatureFile(next((ws_dir / "features" / B).rglob("frame.h5")))
    with fa, fb:
        # same conv front end, so the same frames: every row is shared
        assert first["n"] == fa.features("T1").shape[0] == fb.features("T2").shape[0]
        ref = similarity_map([fa.features("T1")[:]], [fb.features("T2")[:]], ["cka"])
        assert first["score"] == pytest.approx(ref["cka"][0, 0], abs=1e-12)

    again = lwa_json(ws, *args)
    assert all(r["cached"] for r in again)
    assert [r["score"] for r in again] == [r["score"] for r in records]


def test_pwcca_of_a_pair_is_the_cca_inter_score_of_that_layer(ws):
    records = lwa_json(ws, "similarity", "--model", A, "--other-model", B, "--measure",
                       "pwcca", "--measure", "cka", "--layer", "T1", "--other-layer", "T1")
    pwcca = [r for r in records if r["metric"] == "pwcca"]
    assert [(r["layer"], r["other_layer"]) for r in pwcca] == [("T1", "T1")]
    inter = lwa_json(ws, "cca", "inter", "--model", A, "--other-model", B, "--layer", "T1")
    assert pwcca[0]["score"] == pytest.approx(inter[0]["score"], abs=1e-12)
    # a new measure for stored pairs computes only what is missing
    again = lwa_json(ws, "similarity", "--model", A, "--other-model", B, "--measure", "pwcca",
                     "--measure", "rsa", "--rsa-rows", "50", "--layer", "T1",
                     "--other-layer", "T1")
    assert [(r["metric"], r["cached"]) for r in again] == [("pwcca", True), ("rsa", False)]


def test_a_model_against_itself_on_phone_spans(ws):
    records = lwa_json(ws, "similarity", "--model", A, "--other-model", A, "--span", "phone",
                       "--measure", "cka-debiased", "--measure", "rsa", "--rsa-rows", "100",
                       "--layer", "T1-T3", "--other-layer", "T1-T3")
    for measure in ("cka-debiased", "rsa"):
        got = {(r["layer"], r["other_layer"]): r["score"] for r in records
               if r["metric"] == measure}
        m = np.array([[got[(f"T{i}", f"T{j}")] for j in (1, 2, 3)] for i in (1, 2, 3)])
        assert np.allclose(np.diag(m), 1.0, atol=1e-12)
        assert (m <= 1 + 1e-12).all()
    assert all(Path(r["file"]).name.endswith("-phone.json") for r in records)


def test_bad_requests_exit_with_a_message(ws):
    res = lwa(ws, "similarity", "--model", A, "--other-model", B, "--measure", "nope", code=2)
    assert "--measure nope" in res.output
    res = lwa(ws, "similarity", "--model", A, "--other-model", B, "--span", "word", code=1)
    assert "lwa extract" in res.output


def test_results_and_report_show_the_heatmaps(ws, tmp_path):
    lwa_json(ws, "similarity", "--model", A, "--other-model", B, "--measure", "cka")
    rows = json.loads(lwa(ws, "results", "--analysis", "similarity", "--format", "json").stdout)
    rows = rows if isinstance(rows, list) else rows["rows"]
    pair = [r for r in rows if r["layer"] == "T1" and "metric=cka;" in r["variant"] + ";"
            and "other_layer=T2" in r["variant"] and "span=frame" in r["variant"]]
    assert len(pair) == 1 and pair[0]["n"] == 1 and 0 < pair[0]["mean"] <= 1
    out = tmp_path / "report"
    lwa(ws, "report", "--out", str(out))
    figures = json.loads((out / "figures.json").read_text())["figures"]
    name = f"similarity-{A}-vs-{B}-cka"
    fig = figures[name]
    assert fig["kind"] == "heatmap"
    assert fig["y_layers"] == ["T0", "T1", "T2", "T3"] and fig["x_layers"] == ["T0", "T1", "T2"]
    assert fig["y_depth"] == [0.0, 1 / 3, 2 / 3, 1.0] and fig["x_depth"] == [0.0, 0.5, 1.0]
    values = np.array(fig["values"])
    assert [fig["x_layers"][int(j)] for j in values.argmax(axis=1)] == fig["best"]
    assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    html = (out / "index.html").read_text()
    section = html.split('id="a-similarity"', 1)[1].split("</section>", 1)[0]
    assert f"layer-wise plot of {name}" in section
    assert not any(f.startswith("similarity") for f in figures if f != name
                   and figures[f]["kind"] != "heatmap")


def test_models_of_different_frame_rates_are_sent_to_segment_spans():
    from types import SimpleNamespace

    from lwa_cli.errors import LwaUsageError
    from lwa_cli.pipeline.similarity import _paired_views

    a = SimpleNamespace(meta={"spec": {"frame_rate_hz": 50.0}}, path=Path("a/frame.h5"))
    b = SimpleNamespace(meta={"spec": {"frame_rate_hz": 25.0}}, path=Path("b/frame.h5"))
    with pytest.raises(LwaUsageError, match="20 ms frames and frame.h5 40 ms.*`span` phone"):
        _paired_views(a, b, ["T1"], ["T1"], "frame")


def test_options_keep_only_the_measures_settings_and_name_the_pair():
    from lwa_cli.analyses import result_tag
    from lwa_cli.pipeline.results import options_of
    from lwa_cli.pipeline.similarity import SimilarityOptions

    kw = {"seed": 3, "rsa_rows": 50, "knn_rows": 40, "k": 5, "alpha": 0.5}
    rsa = options_of(SimilarityOptions.of("hub", "T5", "rsa", "frame", **kw))
    assert rsa == {"other_model": "hub", "other_layer": "T5", "measure": "rsa",
                   "span": "frame", "seed": 3, "rsa_rows": 50}
    procrustes = options_of(SimilarityOptions.of("hub", "C2", "procrustes", "word", **kw))
    assert set(procrustes) - {"other_model", "other_layer", "measure", "span"} == {"alpha"}
    assert result_tag("similarity", rsa) == "vs-hub-T5-rsa"
    assert result_tag("similarity", procrustes) == "vs-hub-C2-procrustes-word"
