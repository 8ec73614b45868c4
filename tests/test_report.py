"""`lwa report`: tidy table, aggregation, depth, CSV/JSON, PNG plots, HTML page and CLI."""

from __future__ import annotations

import csv
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from lwa_cli.cli.common import out_console
from lwa_cli.errors import LwaError, LwaUsageError
from lwa_cli.progress import Reporter
from lwa_cli.report import build_report, plot_file_name
from lwa_cli.report.html import render_html
from lwa_cli.report.table import (
    KEY_COLUMNS,
    aggregate,
    layer_depth,
    layer_position,
    short_variants,
    tidy_rows,
)
from lwa_cli.workspace import FORMAT_VERSION, Workspace
from lwa_cli.workspace.results import save_result as _save_result
from tests.cli_runner import lwa


def save_result(ws, record, **kw):
    """Store a synthetic result as current: no input files, a provenance digest."""
    return _save_result(ws, {"inputs": {}, "options": {}, "provenance": "synthetic", **record},
                        **kw)

BASE_LAYERS = [f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(13)]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def cca_score(model: str, sample: str, layer: str) -> float:
    """A distinct, known score per (model, sample, layer)."""
    pos = BASE_LAYERS.index(layer)
    return 0.3 + 0.02 * pos + 0.011 * int(sample) ** 2 + (0.05 if model == "hubert_base" else 0)


def mi_score(sample: str, iteration: int, layer: str) -> float:
    return 0.2 + 0.01 * int(layer[1:]) + 0.003 * int(sample) + 0.007 * iteration ** 2


class Collect(Reporter):
    """A reporter that keeps warnings, to assert on them."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    """A workspace with cca-mel (2 models × 3 samples), mi-phone (2 samples × 2 iters),
    wordsim (1 sample) and cca-inter (two other models)."""
    ws = Workspace(tmp_path / "ws").ensure()
    for model in ("wav2vec_base", "hubert_base"):
        for sample in ("1", "2", "3"):
            for layer in BASE_LAYERS:
                save_result(ws, {"analysis": "cca-mel", "model": model, "split": "train-clean",
                                 "sample": sample, "layer": layer,
                                 "score": cca_score(model, sample, layer), "n": 1000,
                                 "trial_scores": [0.1, 0.2, 0.3], "lwa_version": "0.1.0"})
    for sample in ("1", "2"):
        for iteration in (0, 1):
            for layer in BASE_LAYERS[7:]:
                save_result(ws, {"analysis": "mi-phone", "model": "wav2vec_base",
                                 "split": "dev-clean", "sample": sample, "layer": layer,
                                 "iter": iteration, "score": mi_score(sample, iteration, layer),
                                 "n_clusters": 500, "kmeans": "minibatch",
                                 "train_split": "train-clean", "file": "x.json"},
                            tag=f"iter{iteration}")
    for layer in BASE_LAYERS[7:]:
        t = int(layer[1:])
        save_result(ws, {"analysis": "wordsim", "model": "wav2vec_base", "split": "train-clean",
                         "sample": "1", "layer": layer, "score": 0.1 + 0.01 * t,
                         "micro": 0.1 + 0.01 * t, "macro": 0.2, "words": 300,
                         "benchmarks": {"simlex999": {"rho": 0.05 * t, "pairs_kept": 40,
                                                      "pairs_total": 999}},
                         "skipped": {}})
    for other in ("hubert_base", "wavlm_base"):
        for layer in ("T1", "T2"):
            save_result(ws, {"analysis": "cca-inter", "model": "wav2vec_base",
                             "split": "train-clean", "sample": "1", "layer": layer,
                             "other_model": other, "metric": "pwcca",
                             "score": 0.9 if other == "hubert_base" else 0.7},
                        tag=other)
    return ws


@pytest.fixture()
def quick_figures(monkeypatch):
    """Stand-in figure bytes (the figure's name), for tests about rows and files, not images;
    the image tests draw for real."""
    monkeypatch.setattr("lwa_cli.report.figures.render",
                        lambda figure, fmt="png", dpi=150, width="page":
                        f"{figure['name']}.{fmt}".encode())


def _find(rows, **where):
    found = [r for r in rows if all(r[k] == v for k, v in where.items())]
    assert len(found) == 1, (where, found)
    return found[0]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# -- table: pure parts ---------------------------------------------------------------------

def test_layer_position_and_depth():
    assert [layer_position(n, 7) for n in ("C1", "C7", "T0", "T9", "T10", "T12")] == \
        [1, 7, 8, 17, 18, 20]
    # transformer depth l / L: base and large line up, conv layers never shift it
    assert layer_depth("T0", 7, 12) == 0.0 == layer_depth("T0", 7, 24)
    assert layer_depth("T12", 7, 12) == 1.0 == layer_depth("T24", 7, 24)
    assert layer_depth("T6", 7, 12) == 0.5 == layer_depth("T12", 0, 24)
    assert layer_depth("C1", 7, 12) == pytest.approx(1 / 7) and layer_depth("C7", 7, 12) == 1.0
    with pytest.raises(ValueError, match="not a layer name"):
        layer_position("X3", 7)


def test_tidy_rows_order_layers_c_then_t_numerically():
    shuffled = ["T10", "C2", "T9", "T2", "C1", "T0", "C7", "T1"]
    records = [{"analysis": "cca-mel", "model": "wav2vec_base", "split": "s", "sample": "1",
                "layer": name, "score": 0.5} for name in shuffled]
    rows = tidy_rows(records)
    assert [r["layer"] for r in rows] == ["C1", "C2", "C7", "T0", "T1", "T2", "T9", "T10"]
    assert [r["layer_index"] for r in rows] == [1, 2, 7, 8, 9, 10, 17, 18]
    assert list(rows[0])[:len(KEY_COLUMNS)] == list(KEY_COLUMNS)


def test_depth_uses_feature_spec_registry_or_stored_layers():
    stored = (("wav2vec_large", ["T0", "T12"]), ("mine", ["C1", "C7", "T0", "T3"]),
              ("spec_model", ["T3"]), ("avhubert_base_lrs3", ["T6"]),
              ("fastvgs_coco", ["C2", "T4"]))
    records = [{"analysis": "mi-phone", "model": m, "split": "s", "sample": "1",
                "layer": layer, "score": 0.1} for m, layers in stored for layer in layers]
    specs = {"spec_model": {"conv_layers": [], "n_layers": 6}}
    rows = tidy_rows(records, specs=specs)
    got = {(r["model"], r["layer"]): (r["depth"], r["block"], r["number"], r["n_layers"])
           for r in rows}
    # registered: L from the registry whatever is stored (T12 of 24 is half way)
    assert got[("wav2vec_large", "T12")] == (0.5, "transformer", 12, 24)
    assert got[("wav2vec_large", "T0")][0] == 0.0
    # unregistered without a feature file: geometry from its own stored layers
    assert got[("mine", "C1")] == (pytest.approx(1 / 7), "conv", 1, 7)
    assert got[("mine", "T0")][0] == 0.0 and got[("mine", "T3")][0] == 1.0
    # the feature file's meta spec gives L (6) though only T3 is stored
    assert got[("spec_model", "T3")] == (0.5, "transformer", 3, 6)
    # no conv layers (AV-HuBERT), and an exposed L smaller than the encoder (FaST-VGS: 8)
    assert got[("avhubert_base_lrs3", "T6")] == (0.5, "transformer", 6, 12)
    assert got[("fastvgs_coco", "T4")] == (0.5, "transformer", 4, 8)
    assert got[("fastvgs_coco", "C2")] == (pytest.approx(2 / 7), "conv", 2, 7)
    layer_index = {(r["model"], r["layer"]): r["layer_index"] for r in rows}
    assert layer_index[("avhubert_base_lrs3", "T6")] == 7  # no conv block before T0


def test_tidy_rows_skip_bad_records_and_flatten_benchmarks():
    skipped: list[str] = []
    good = {"analysis": "wordsim", "model": "m", "split": "s", "sample": 2, "layer": "T1",
            "score": 0.4, "micro": 0.4, "benchmarks": {"ws": {"rho": 0.3, "pairs_kept": 9}},
            "skipped": {}, "lwa_format_version": 1}
    bad = [{**good, "score": "high"}, {**good, "layer": "L3"},
           {k: v for k, v in good.items() if k != "split"}, {**good, "score": True}]
    rows = tidy_rows([good, *bad], on_skip=skipped.append)
    assert len(rows) == 1 and len(skipped) == 4
    assert any("non-numeric score 'high'" in s for s in skipped)
    assert any("unknown layer 'L3'" in s for s in skipped)
    assert any("lacks split" in s for s in skipped)
    row = rows[0]
    assert row["sample"] == "2" and row["iter"] is None
    assert row["rho_ws"] == 0.3 and row["pairs_kept_ws"] == 9 and row["micro"] == 0.4
    assert "benchmarks" not in row and "skipped" not in row and "lwa_format_version" not in row


def test_aggregate_mean_std_over_samples_and_iters_and_nan():
    records = [{"analysis": "mi-phone", "model": "m", "split": "dev", "sample": s,
                "iter": i, "layer": "T3", "score": mi_score(s, i, "T3")}
               for s in ("1", "2", "3") for i in (0, 1)]
    records.append({**records[0], "sample": "4", "score": float("nan")})
    records.append({**records[0], "layer": "T4", "score": float("nan")})
    agg = aggregate(tidy_rows(records))
    expect = np.array([mi_score(s, i, "T3") for s in ("1", "2", "3") for i in (0, 1)])
    t3 = _find(agg, layer="T3")
    assert t3["mean"] == pytest.approx(expect.sum() / 6, abs=1e-15)
    var = ((expect - expect.mean()) ** 2).sum() / 5
    assert t3["std"] == pytest.approx(var ** 0.5, rel=1e-12)
    assert (t3["n"], t3["n_samples"], t3["n_iters"]) == (6, 3, 2)
    t4 = _find(agg, layer="T4")
    assert t4["n"] == 0 and np.isnan(t4["mean"]) and t4["std"] is None
    single = aggregate(tidy_rows(records[:1]))[0]
    assert single["n"] == 1 and single["std"] is None  # no spread from one result


def test_variants_are_not_averaged_and_short_labels_drop_shared_settings():
    base = {"analysis": "cca-inter", "model": "m", "split": "s", "sample": "1", "layer": "T1",
            "metric": "pwcca"}
    rows = tidy_rows([{**base, "other_model": "a", "score": 0.9},
                      {**base, "other_model": "b", "score": 0.5}])
    agg = aggregate(rows)
    assert sorted(r["mean"] for r in agg) == [0.5, 0.9]
    assert {r["variant"] for r in agg} == {"other_model=a; metric=pwcca",
                                          "other_model=b; metric=pwcca"}
    short = short_variants(agg)
    assert short[("cca-inter", "other_model=a; metric=pwcca")] == "other_model=a"
    one = aggregate(tidy_rows([{**base, "n_clusters": 500, "score": 0.1}]))
    assert one[0]["variant"] == "metric=pwcca; n_clusters=500"
    assert short_variants(one) == {("cca-inter", "metric=pwcca; n_clusters=500"): ""}


# -- build_report ---------------------------------------------------------------------------

def test_build_report_aggregates_stored_results(ws, tmp_path, quick_figures):
    summary = build_report(ws, tmp_path / "out")
    rows = summary.rows
    n_records = 2 * 3 * 20 + 2 * 2 * 13 + 13 + 4
    assert summary.n_records == n_records
    for model in ("wav2vec_base", "hubert_base"):
        for layer in ("C1", "C7", "T0", "T9", "T10", "T12"):
            scores = [cca_score(model, s, layer) for s in ("1", "2", "3")]
            row = _find(rows, analysis="cca-mel", model=model, layer=layer)
            assert row["mean"] == pytest.approx(sum(scores) / 3, abs=1e-14)
            assert row["std"] == pytest.approx(float(np.std(scores, ddof=1)), rel=1e-12)
            assert (row["n"], row["n_samples"], row["n_iters"]) == (3, 3, 1)
    mi_scores = [mi_score(s, i, "T5") for s in ("1", "2") for i in (0, 1)]
    mi = _find(rows, analysis="mi-phone", layer="T5")
    assert mi["mean"] == pytest.approx(np.mean(mi_scores), abs=1e-14)
    assert mi["std"] == pytest.approx(np.std(mi_scores, ddof=1), rel=1e-12)
    assert (mi["n"], mi["n_samples"], mi["n_iters"]) == (4, 2, 2)
    layers = [r["layer"] for r in rows if r["analysis"] == "cca-mel"
              and r["model"] == "hubert_base"]
    assert layers == BASE_LAYERS
    depths = [r["depth"] for r in rows if r["analysis"] == "cca-mel"
              and r["model"] == "hubert_base"]
    assert depths == pytest.approx([*(np.arange(1, 8) / 7), *(np.arange(13) / 12)])
    trial = _find(rows, analysis="cca-mel", model="hubert_base", layer="T3")["trial_std"]
    assert trial == pytest.approx(0.1, rel=1e-12)  # std of the CV trials 0.1, 0.2, 0.3
    macro = [r for r in rows if r["analysis"] == "wordsim" and r["layer"] == "T4"]
    assert {r["measure"]: r["mean"] for r in macro} == pytest.approx(
        {"score": 0.14, "macro": 0.2, "rho_simlex999": 0.2})
    inter = sorted((r["variant"], r["mean"]) for r in rows if r["analysis"] == "cca-inter"
                   and r["layer"] == "T1")
    assert inter == [("other_model=hubert_base; metric=pwcca", 0.9),
                     ("other_model=wavlm_base; metric=pwcca", 0.7)]


def test_csv_and_json_content(ws, tmp_path, quick_figures):
    summary = build_report(ws, tmp_path / "out")
    with summary.csv.open(newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames[:len(KEY_COLUMNS)] == list(KEY_COLUMNS)
        table = list(reader)
    assert len(table) == summary.n_records
    row = _find(table, analysis="cca-mel", model="hubert_base", sample="2", layer="T10")
    assert float(row["score"]) == pytest.approx(cca_score("hubert_base", "2", "T10"), abs=1e-15)
    assert row["iter"] == "" and row["n"] == "1000" and row["layer_index"] == "18"
    assert "trial_scores" not in row and "file" not in row
    ws_row = _find(table, analysis="wordsim", layer="T4")
    assert float(ws_row["rho_simlex999"]) == pytest.approx(0.2)
    mi_row = _find(table, analysis="mi-phone", sample="2", iter="1", layer="T3")
    assert float(mi_row["score"]) == pytest.approx(mi_score("2", 1, "T3"), abs=1e-15)

    doc = json.loads(summary.json.read_text())
    assert doc["aggregated"] == summary.to_dict()["rows"]
    assert len(doc["rows"]) == summary.n_records
    prov = doc["provenance"]
    assert prov["workspace"] == str(ws.root) and prov["results made by lwa"] == "0.1.0"
    assert "lwa version" in prov and prov["date"].endswith("UTC")


def test_pngs_are_valid_and_deterministic(ws, tmp_path):
    summary = build_report(ws, tmp_path / "out")
    umask = os.umask(0o022)
    os.umask(umask)
    assert summary.html.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    assert set(summary.plots) == {"profile", "overview", "cca-mel", "cca-inter", "mi-phone",
                                  "wordsim", "wordsim-benchmarks"}
    for analysis, path in summary.plots.items():
        assert path.name == plot_file_name(analysis)
        data = path.read_bytes()
        width, height = _png_size(data)
        assert 400 <= width <= 2000 and 250 <= height <= 1500, (analysis, width, height)
        assert len(data) > 10_000
    again = build_report(ws, tmp_path / "again")
    for analysis, path in summary.plots.items():
        assert again.plots[analysis].read_bytes() == path.read_bytes()
    assert again.figures.read_bytes() == summary.figures.read_bytes()


def test_html_is_self_contained_and_escaped(ws, tmp_path, quick_figures):
    # A hand-edited result whose model name is markup (save_result would refuse the name).
    evil = ws.results_dir() / "cca-mel" / "evil" / "train-clean" / "sample-1"
    evil.mkdir(parents=True)
    (evil / "T1.json").write_text(json.dumps({
        "lwa_format_version": FORMAT_VERSION, "analysis": "cca-mel", "model": "<b>$x$&",
        "split": "train-clean", "sample": "1", "layer": "T1", "score": 0.5, "inputs": {},
        "provenance": "synthetic"}))
    summary = build_report(ws, tmp_path / "out")
    page = summary.html.read_text()
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page
    assert page.count('src="data:image/png;base64,') == len(summary.plots) == 7
    assert "<b>" not in page and "&lt;b&gt;$x$&amp;" in page
    assert str(ws.root) in page
    direct = render_html([{"analysis": "x<y", "model": "<i>", "split": "s", "variant": "",
                           "layer": "T1", "depth": 0.5, "mean": 0.25, "std": 0.0, "n": 1,
                           "n_samples": 1, "n_iters": 1}], {},
                         provenance={"who": "<script>"})
    assert "<i>" not in direct and "<script>" not in direct and "x&lt;y" in direct
    assert "0.2500" in direct


def test_filters_and_errors(ws, tmp_path, quick_figures):
    summary = build_report(ws, tmp_path / "out", models=["hubert_base"])
    assert {r["model"] for r in summary.rows} == {"hubert_base"}
    assert set(summary.plots) == {"profile", "overview", "cca-mel"}
    summary = build_report(ws, tmp_path / "out2", analyses=["mi-phone", "wordsim"])
    assert {r["analysis"] for r in summary.rows} == {"mi-phone", "wordsim"}
    with pytest.raises(LwaUsageError, match="--model nope: no stored results; stored: "
                                            "hubert_base, wav2vec_base"):
        build_report(ws, tmp_path / "out3", models=["nope"])
    with pytest.raises(LwaUsageError, match="--analysis mi-word"):
        build_report(ws, tmp_path / "out3", analyses=["mi-word"])
    empty = Workspace(tmp_path / "empty").ensure()
    with pytest.raises(LwaError, match="no results in workspace .*lwa cca.*lwa mi.*wordsim"):
        build_report(empty, tmp_path / "out4")
    with pytest.raises(LwaError, match="no lwa workspace"):
        build_report(Workspace(tmp_path / "missing"), tmp_path / "out5")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(LwaError, match="cannot create report directory"):
        build_report(ws, tmp_path / "afile")


def test_unusable_results_warn_and_only_unusable_is_an_error(tmp_path):
    ws = Workspace(tmp_path / "ws").ensure()
    save_result(ws, {"analysis": "mi-word", "model": "m", "split": "s", "sample": "1",
                     "layer": "T2", "score": None})
    reporter = Collect()
    with pytest.raises(LwaError, match="no usable results"):
        build_report(ws, tmp_path / "out", reporter=reporter)
    assert len(reporter.warnings) == 1 and "non-numeric score None" in reporter.warnings[0]


def test_failed_report_keeps_previous_one(ws, tmp_path, quick_figures, monkeypatch):
    out = tmp_path / "out"
    first = build_report(ws, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    save_result(ws, {"analysis": "cca-mel", "model": "wav2vec_base", "split": "train-clean",
                     "sample": "4", "layer": "T1", "score": 0.0})
    with monkeypatch.context() as m:
        m.setattr("lwa_cli.report.render_html", boom)
        with pytest.raises(RuntimeError, match="disk full"):
            build_report(ws, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temp file either
    assert first.html.is_file()

    real_fdopen = os.fdopen
    calls = []

    def full_disk(fd, *args, **kwargs):  # the third file cannot be written
        calls.append(fd)
        if len(calls) == 3:
            os.close(fd)
            raise OSError(28, "No space left on device")
        return real_fdopen(fd, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(os, "fdopen", full_disk)
        with pytest.raises(LwaError, match="cannot write the report .*No space left"):
            build_report(ws, out)
    assert len(calls) == 3
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# -- CLI ------------------------------------------------------------------------------------

def test_cli_json_and_table(ws, tmp_path, monkeypatch):
    monkeypatch.setattr(out_console, "width", 160)  # a wide terminal: no folded cells
    out = tmp_path / "cli-out"
    result = lwa(ws.root, "report", "--out", str(out), "--json", "--model", "wav2vec_base",
                 "--analysis", "mi-phone", "--format", "svg")
    data = json.loads(result.stdout)
    assert data["html"] == str(out / "index.html") and (out / "index.html").is_file()
    assert len(data["rows"]) == 13 and {r["analysis"] for r in data["rows"]} == {"mi-phone"}
    assert data["rows"][0]["layer"] == "T0"
    assert data["plots"]["profile"] == str(out / "profile.svg")
    assert (out / "mi-phone.svg").read_bytes().lstrip().startswith(b"<?xml")

    result = lwa(ws.root, "report", "--analysis", "cca-inter", "--table")
    assert "other_model=hubert_base" in result.stdout and "other_model=wavlm_base" in result.stdout
    assert result.stdout.count("0.9000") == 2 and result.stdout.count("0.7000") == 2
    assert (ws.root / "report" / "index.html").is_file()  # default --out

    # Without --table: the paths written, one a line, the page first; no result rows.
    result = lwa(ws.root, "report", "--analysis", "cca-inter", "--format", "svg")
    lines = result.stdout.splitlines()
    report_dir = ws.root / "report"
    assert lines[:4] == [str(report_dir / n) for n in ("index.html", "results.csv",
                                                        "results.json", "figures.json")]
    assert str(report_dir / "profile.svg") in lines and len(lines) == len(set(lines)) > 4
    assert all(Path(line).is_file() for line in lines)
    assert "0.9000" not in result.stdout

    result = lwa(ws.root, "--debug", "report", "--model", "zzz", code=None)
    assert result.exit_code != 0 and isinstance(result.exception, LwaUsageError)
