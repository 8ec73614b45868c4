"""Figures a paper can print (issue 19, item 4), checked on `figures.json` and the page:
colours stable across runs and model sets, the flat-series rule, CV trial bands, sparse
random twins dashed and joined, the best layer by ``higher_is_better``, the width presets,
the overview legend, the page's order (contents first, best-layer summary, caveat) and PNGs
beside PDFs."""

from __future__ import annotations

import json
import re
import struct

import numpy as np
import pytest

from lwa_cli.analyses import ANALYSES, Analysis
from lwa_cli.cli.report import report  # noqa: F401  (the CLI module imports cleanly)
from lwa_cli.errors import LwaUsageError
from lwa_cli.report import build_report
from lwa_cli.report.figdata import (
    analysis_figures,
    counts_of,
    overview_figure,
    profile_figure,
)
from lwa_cli.report.figures import draw, figure_size, render
from lwa_cli.report.style import OKABE_ITO, model_colour, parse_colours, width_preset
from lwa_cli.report.table import aggregate, tidy_rows
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.results import save_result

T = [f"T{i}" for i in range(13)]


def demo_records(models: tuple[str, ...] = ("demo_wav2vec2",), twin_layers=("T0", "T6", "T12")
                 ) -> list[dict]:
    """Demo-like results: cca-mel with CV trials (and a sparse random twin), a cca-phone
    line whose whole range is below its trial spread, AWD in two token-filter variants
    varying 0.028575–0.028588 (no spread known), wordsim with pairs kept."""
    out = []
    rng = np.random.default_rng(0)

    def add(**r):
        out.append({"split": "dev-clean", "sample": "1", **r})

    for k, model in enumerate(models):
        for layer in T:
            t = int(layer[1:])
            mel = 0.3 + 0.04 * t - 0.002 * t * t + 0.02 * k
            add(analysis="cca-mel", model=model, layer=layer, metric="pwcca", score=mel,
                n=999, trial_scores=list(mel + rng.normal(0, 0.01, 5)))
            phone = 0.1004 + 1e-5 * (t % 3)
            add(analysis="cca-phone", model=model, layer=layer, metric="pwcca", score=phone,
                n=117, trial_scores=list(phone + rng.normal(0, 0.015, 5)))
            for cut, shift in (("all", 0.0), ("chars>=4", 5e-6)):
                add(analysis="awd", model=model, layer=layer, distance="cosine",
                    token_filter=cut, score=0.028575 + 1e-6 * t + shift, n=82,
                    tokens_total=353, pairs=82 * 81 // 2)
            add(analysis="wordsim", model=model, split="train-clean", layer=layer,
                score=0.05 + 0.01 * t, micro=0.05 + 0.01 * t, macro=0.1,
                benchmarks={"men": {"rho": 0.01 * t, "pairs_kept": 117}})
        for layer in twin_layers:
            add(analysis="cca-mel", model=f"{model}_random", layer=layer, metric="pwcca",
                score=0.25 + 0.001 * int(layer[1:]), n=999)
    return out


def agg_of(records: list[dict]) -> list[dict]:
    return aggregate(tidy_rows(records))


def _series(figure: dict, **where) -> list[dict]:
    return [s for p in figure["panels"] for s in p["series"]
            if all(s[k] == v for k, v in where.items())]


# -- colours -------------------------------------------------------------------------------

def test_model_colour_depends_on_the_name_only():
    one = overview_figure(agg_of(demo_records(("demo_wav2vec2",))))
    two = overview_figure(agg_of(demo_records(("demo_hubert", "demo_wav2vec2"))))
    colour = {e["model"]: e["colour"] for e in one["legend"]}["demo_wav2vec2"]
    # the same with a second model beside it, in every figure, and from the palette
    assert {e["model"]: e["colour"] for e in two["legend"]}["demo_wav2vec2"] == colour
    for fig in analysis_figures(agg_of(demo_records(("demo_hubert", "demo_wav2vec2")))):
        for s in _series(fig, model="demo_wav2vec2"):
            assert s["colour"] == colour
    assert colour in OKABE_ITO and model_colour("demo_wav2vec2") == colour
    # a fixed hash, not Python's salted one: the same value in every run (SHA-256 of the name)
    assert model_colour("hubert_base") == OKABE_ITO[
        int.from_bytes(__import__("hashlib").sha256(b"hubert_base").digest()[:8], "big") % 7]
    # the twin shares its model's colour; --colors pins one
    (mel,) = [f for f in analysis_figures(agg_of(demo_records())) if f["name"] == "cca-mel"]
    (twin,) = _series(mel, model="demo_wav2vec2_random")
    assert twin["colour"] == colour
    pinned = analysis_figures(agg_of(demo_records()), colours={"demo_wav2vec2": "#123456"})
    assert {s["colour"] for f in pinned for s in _series(f, model="demo_wav2vec2_random")} == \
        {"#123456"}
    assert parse_colours(["a=#00ff00"]) == {"a": "#00FF00"}
    with pytest.raises(LwaUsageError, match="--colors 'a=green': expected MODEL=#RRGGBB"):
        parse_colours(["a=green"])


def test_variants_of_an_analysis_differ_in_marker_and_line_style():
    (awd,) = [f for f in analysis_figures(agg_of(demo_records())) if f["name"] == "awd"]
    lines = awd["panels"][0]["series"]
    assert len(lines) == 2 and lines[0]["colour"] == lines[1]["colour"]
    assert (lines[0]["marker"], lines[0]["linestyle"]) != (lines[1]["marker"],
                                                           lines[1]["linestyle"])
    assert "--" not in (lines[0]["linestyle"], lines[1]["linestyle"])  # dashes: twins only


# -- profile -------------------------------------------------------------------------------

def test_profile_draws_noise_flat_and_grey_with_the_raw_range():
    (panel,) = profile_figure(agg_of(demo_records()))["panels"]
    by = {(s["analysis"], s["variant"]): s for s in panel["series"]}
    phone = by[("cca-phone", "metric=pwcca")]
    # range 2e-5 below the CV trial spread (~0.015): flat at 0.5, grey, labelled, range kept
    assert phone["flat"] and phone["noise_kind"] == "CV trial std"
    assert phone["range"][1] - phone["range"][0] < phone["noise"]
    assert set(phone["y"]) == {0.5} and phone["colour"] == "#AAAAAA"
    assert "flat" in phone["label"] and "0.1004–0.10042" in phone["label"]
    # AWD: no spread known, a range within 0.1 % of its values is flat too
    awd = [s for s in panel["series"] if s["analysis"] == "awd"]
    assert len(awd) == 2 and all(s["flat"] and s["noise"] is None for s in awd)
    assert awd[0]["label"] == "AWD (token_filter=all) [0.02857–0.02859, flat: range < 0.1 %]"
    # a real trend is min-max scaled as before, with its range in the label
    mel = by[("cca-mel", "metric=pwcca")]
    assert not mel["flat"] and min(mel["y"]) == 0.0 and max(mel["y"]) == 1.0
    assert re.search(r"\[0\.3–0\.5\d*\]", mel["label"])


# -- per analysis --------------------------------------------------------------------------

def test_trial_band_sparse_twin_and_best_layer():
    tidy = tidy_rows(demo_records())
    (mel,) = [f for f in analysis_figures(aggregate(tidy), counts=counts_of(tidy))
              if f["name"] == "cca-mel"]
    (line,) = _series(mel, model="demo_wav2vec2")
    # the band is the CV trial spread (one sample: no std over samples)
    assert line["band_kind"] == "CV trial std" and all(v is None for v in line["std"])
    assert line["band"] == line["trial_std"] and all(b > 0.003 for b in line["band"])
    # best layer: mel peaks at t = 10 (0.3 + 0.04 t - 0.002 t²)
    assert line["best"] == {"layer": "T10", "x": pytest.approx(10 / 12),
                            "y": pytest.approx(0.5), "rule": "max", "within_noise": False}
    # the twin, scored at 3 layers, is dashed and joined across the layers it lacks
    (twin,) = _series(mel, model="demo_wav2vec2_random")
    assert twin["linestyle"] == "--" and twin["connect"]
    assert sum(y is not None for y in twin["y"]) == 3
    fig = draw(mel, "page")
    dashed = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and len(dashed[0].get_xdata()) == 3
    assert np.isfinite(np.asarray(dashed[0].get_ydata(), dtype=float)).all()
    # N in the caption: rows of CCA, the samples per point
    assert "n = 999" in mel["caption"] and "Samples per point: 1." in mel["caption"]


def test_best_layer_follows_higher_is_better(monkeypatch):
    monkeypatch.setitem(ANALYSES, "abx", Analysis("abx", "x:y", "lwa abx", "ABX", "ABX",
                                                  "ABX error rate", higher_is_better=False))
    rows = agg_of([{"analysis": "abx", "model": "m", "split": "s", "sample": "1",
                    "layer": f"T{t}", "score": 0.3 - 0.01 * t + 0.002 * t * t}
                   for t in range(8)])
    (fig,) = analysis_figures(rows)
    (line,) = fig["panels"][0]["series"]
    # minimum of 0.3 - 0.01 t + 0.002 t² is at t = 2.5: T2 and T3 tie, the first wins
    assert line["best"]["rule"] == "min" and line["best"]["layer"] == "T2"
    assert "lowest mean" in fig["caption"]
    # a best layer within the noise (AWD's flat lines) is listed but not marked
    (awd,) = [f for f in analysis_figures(agg_of(demo_records())) if f["name"] == "awd"]
    assert all(s["best"]["within_noise"] for s in awd["panels"][0]["series"])
    (mel,) = [f for f in analysis_figures(agg_of(demo_records())) if f["name"] == "cca-mel"]
    stars = [ln for ax in draw(awd).axes for ln in ax.get_lines() if ln.get_marker() == "*"]
    assert stars == [] and len([ln for ax in draw(mel).axes for ln in ax.get_lines()
                                if ln.get_marker() == "*"]) == 1
    assert line["best"]["y"] == pytest.approx(0.288)


# -- widths and the page -------------------------------------------------------------------

def test_width_presets_set_the_figure_size_and_fonts():
    figs = analysis_figures(agg_of(demo_records(("demo_hubert", "demo_wav2vec2"))))
    overview = overview_figure(agg_of(demo_records()), max_cols=2)
    for fig in (*figs, overview, profile_figure(agg_of(demo_records()))):
        column, page = render(fig, "png", 100, "column"), render(fig, "png", 100, "page")
        w_col = struct.unpack(">II", column[16:24])[0]
        w_page = struct.unpack(">II", page[16:24])[0]
        assert abs(w_col - 330) <= 2 and abs(w_page - 700) <= 2, fig["name"]
        assert figure_size(fig, width_preset("column"))[0] == 3.3
    drawn = draw(figs[0], "column")
    sizes = {t.get_fontsize() for ax in drawn.axes for t in
             (ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(), *ax.get_yticklabels())}
    sizes |= {t.get_fontsize() for legend in drawn.legends for t in legend.get_texts()}
    assert min(sizes) >= 6.5  # legible at print size, legend included
    assert drawn.legends and not any(ax.get_legend() for ax in drawn.axes)  # not on the axes
    with pytest.raises(LwaUsageError, match="--width must be one of column, page"):
        width_preset("a4")


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("print") / "ws").ensure()
    for record in demo_records(("demo_hubert", "demo_wav2vec2")):
        options = {k: record[k] for k in ("token_filter", "metric") if k in record}
        save_result(ws, {"inputs": {}, "options": options, "provenance": "synthetic",
                         **record}, tag=options.get("token_filter", "").replace(">=", "")
                    or None)
    return ws


def test_page_order_summary_caveat_and_pdf_pngs(demo_ws, tmp_path):
    got = build_report(demo_ws, tmp_path / "r", fmt="pdf", dpi=40, width="column")
    page = got.html.read_text()
    # contents first (before any figure), then caveat and the best-layer summary
    toc, summary, first_img = (page.index('<nav id="toc">'), page.index('id="summary"'),
                               page.index("<img"))
    assert toc < summary < first_img
    assert page.index("Demo data:") < summary and "random-init twins" in page
    table = page[summary:page.index("</table>", summary)]
    assert ("<th>demo_hubert</th><th>demo_hubert_random</th><th>demo_wav2vec2</th>"
            "<th>demo_wav2vec2_random</th>") in table
    assert '<td class="num">T10: 0.5000</td>' in table  # demo_hubert's mel peak (k = 0)
    # cca-phone's and AWD's best layers are within the noise: marked, not claimed
    assert table.count('title="range within the noise">≈ ') == 3 * 2
    assert "n = 999" in table and "tokens_total = 353" in table
    # PDFs for print, PNGs for the page
    sidecar = json.loads(got.figures.read_text())
    assert sidecar["width"] == "column" and sidecar["font_pt"]["legend"] >= 7
    for name, path in got.plots.items():
        assert path.read_bytes()[:5] == b"%PDF-"
        assert (path.parent / sidecar["figures"][name]["png"]).read_bytes()[:4] == b"\x89PNG"
        assert sidecar["figures"][name]["size_in"][0] == 3.3
    assert page.count("data:image/png;base64,") == len(got.plots)


def test_cli_width_and_colors(demo_ws, tmp_path):
    from tests.cli_runner import lwa, lwa_json

    bad = lwa(demo_ws.root, "report", "--out", str(tmp_path / "x"), "--width", "a4", code=2)
    assert "--width must be one of column, page, not 'a4'" in bad.output
    bad = lwa(demo_ws.root, "report", "--out", str(tmp_path / "x"), "--colors", "demo_hubert=red",
              code=2)
    assert "expected MODEL=#RRGGBB" in bad.output
    summary = lwa_json(demo_ws.root, "report", "--out", str(tmp_path / "r"), "--dpi", "30",
                       "--width", "column", "--colors", "demo_hubert=#112233")
    sidecar = json.loads((tmp_path / "r" / "figures.json").read_text())
    assert summary["figures"] == str(tmp_path / "r" / "figures.json")
    assert sidecar["width"] == "column"
    legend = {e["model"]: e["colour"] for e in sidecar["figures"]["overview"]["legend"]}
    assert legend["demo_hubert"] == "#112233"
    assert legend["demo_wav2vec2"] == model_colour("demo_wav2vec2")
