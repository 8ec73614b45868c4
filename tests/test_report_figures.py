"""Report figures: what they plot (normalisation, depth, gaps, baselines, names, one metric
per axis) and that they are valid, deterministic PNG/PDF/SVG files whose sidecar is the data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lwa_cli.cli.report import parse_baselines, parse_ylims
from lwa_cli.errors import LwaUsageError
from lwa_cli.report import build_report
from lwa_cli.report.analyses import display_name, load_names
from lwa_cli.report.figdata import analysis_figures, overview_figure, profile_figure
from lwa_cli.report.figures import draw, render
from lwa_cli.report.table import aggregate, tidy_rows
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.results import save_result

BASE_T = [f"T{i}" for i in range(13)]


def mel(model: str, sample: str, layer: str) -> float:
    """A known cca-mel score per (model, sample, layer)."""
    number = int(layer[1:])
    shift = {"wav2vec_base": 0.0, "wav2vec_base_random": -0.2, "wav2vec_large": 0.05}[model]
    return 0.3 + 0.02 * number + 0.01 * int(sample) + shift + (0.1 if layer[0] == "C" else 0)


def records() -> list[dict]:
    """cca-mel for base (C1-C7, T0-T12 except T5, 2 samples), its random twin, large (T0-T24);
    cca-intra in two metrics; cca-inter; wordsim with macro and benchmarks; AV-HuBERT's
    sts (no conv layers); an analysis the report does not know."""
    out = []

    def add(**r):
        out.append({"split": "dev-clean", "sample": "1", **r})

    for model, layers in (("wav2vec_base", [f"C{i}" for i in range(1, 8)] + BASE_T),
                          ("wav2vec_base_random", BASE_T),
                          ("wav2vec_large", [f"T{i}" for i in range(25)])):
        for sample in ("1", "2") if model == "wav2vec_base" else ("1",):
            for layer in layers:
                if model == "wav2vec_base" and layer == "T5":
                    continue  # a missing layer: a gap, never a line across it
                add(analysis="cca-mel", model=model, sample=sample, layer=layer,
                    metric="pwcca", score=mel(model, sample, layer))
    for metric, scale in (("pwcca", 1.0), ("cka", 0.5)):
        for layer in BASE_T[1:]:
            add(analysis="cca-intra", model="wav2vec_base", layer=layer, metric=metric,
                base_layer="T0", score=scale * (1 - 0.05 * int(layer[1:])))
    for layer in BASE_T:
        t = int(layer[1:])
        add(analysis="cca-inter", model="wav2vec_base", layer=layer, metric="pwcca",
            other_model="hubert_base", score=0.9 - 0.01 * t)
        add(analysis="wordsim", model="wav2vec_base", split="train-clean", layer=layer,
            score=0.1 + 0.01 * t, micro=0.1 + 0.01 * t, macro=0.3 - 0.01 * t,
            benchmarks={"men": {"rho": 0.02 * t, "pairs_kept": 5},
                        "simlex999": {"rho": -0.01 * t, "pairs_kept": 5}})
        add(analysis="sts", model="avhubert_base_lrs3", layer=layer, score=0.2 + 0.03 * t)
        add(analysis="my-probe", model="wav2vec_base", layer=layer, score=float(t * t))
    return out


@pytest.fixture(scope="module")
def agg() -> list[dict]:
    return aggregate(tidy_rows(records()))


def _series(figure: dict, **where) -> list[dict]:
    return [s for p in figure["panels"] for s in p["series"]
            if all(s[k] == v for k, v in where.items())]


def _panel_of(figure: dict, **where) -> dict:
    found = [p for p in figure["panels"]
             if any(all(s[k] == v for k, v in where.items()) for s in p["series"])]
    assert len(found) == 1, where
    return found[0]


# -- profile -------------------------------------------------------------------------------

def test_profile_min_max_normalises_each_analysis_per_model(agg):
    fig = profile_figure(agg)
    titles = [p["title"] for p in fig["panels"]]
    # one stacked panel per model; the random twin is a baseline elsewhere, not a panel
    assert titles == ["AV-HuBERT Base (LRS3)", "wav2vec 2.0 Base", "wav2vec 2.0 Large"]
    assert fig["grid"] == [3, 1]
    base = fig["panels"][1]
    assert {s["analysis"] for s in base["series"]} == {
        "cca-mel", "cca-intra", "cca-inter", "wordsim", "my-probe"}
    (line,) = [s for s in base["series"] if s["analysis"] == "cca-mel"]
    means = [None if t == 5 else (mel("wav2vec_base", "1", f"T{t}")
                                  + mel("wav2vec_base", "2", f"T{t}")) / 2 for t in range(13)]
    assert line["raw"] == pytest.approx(means)
    lo, hi = means[0], means[12]
    assert line["range"] == pytest.approx([lo, hi])
    assert line["y"][5] is None  # the gap stays a gap
    assert line["y"] == pytest.approx([None if m is None else (m - lo) / (hi - lo)
                                       for m in means])
    assert line["x"] == list(range(13)) and line["layers"][0] == "T0"
    probe = next(s for s in base["series"] if s["analysis"] == "my-probe")
    assert probe["label"] == "my-probe [0–144]" and probe["y"][0] == 0.0 and probe["y"][-1] == 1.0
    # two metrics of cca-intra are two lines, each named by its metric
    assert sorted(s["label"].split(" [")[0] for s in base["series"]
                  if s["analysis"] == "cca-intra") == ["CCA-intra (CKA)", "CCA-intra (PWCCA)"]
    inter = next(s for s in base["series"] if s["analysis"] == "cca-inter")
    assert "vs HuBERT Base" in inter["label"]
    # every line of a panel its own look (an analysis's colour and marker, a variant's line
    # style); a line kind looks the same in every panel
    for panel in fig["panels"]:
        looks = [(s["colour"], s["marker"], s["linestyle"]) for s in panel["series"]]
        assert len(set(looks)) == len(looks)
        assert len({(s["colour"], s["marker"]) for s in panel["series"]}) == len(
            {s["analysis"] for s in panel["series"]})
    look_of = {}
    for s in (s for p in fig["panels"] for s in p["series"]):
        look = (s["colour"], s["marker"], s["linestyle"])
        assert look_of.setdefault((s["analysis"], s["variant"]), look) == look


def test_profile_names_what_tells_variants_apart():
    rows = [{"split": "dev-clean", "sample": "1", "analysis": "awd", "model": "wav2vec_base",
             "layer": f"T{t}", "score": 0.1 * t + (0.05 if cut else 0), "distance": "cosine",
             "token_filter": "chars>=4" if cut else "all"}
            for t in range(3) for cut in (False, True)]
    fig = profile_figure(aggregate(tidy_rows(rows)))
    labels = sorted(s["label"] for s in fig["panels"][0]["series"])
    assert labels == ["AWD (token_filter=all) [0–0.2]", "AWD (token_filter=chars>=4) [0.05–0.25]"]


# -- per analysis --------------------------------------------------------------------------

def test_analysis_figure_depth_conv_panel_random_twin_and_gaps(agg):
    figs = {f["name"]: f for f in analysis_figures(agg, baselines={"cca-mel": [("fbank", .5)]})}
    mel_fig = figs["cca-mel"]
    assert mel_fig["grid"] == [1, 2]  # conv panel on the left, transformer on the right
    conv, trans = mel_fig["panels"]
    assert (conv["block"], trans["block"]) == ("conv", "transformer")
    assert conv["ylim"] == trans["ylim"]  # one row, one y scale
    (base_conv,) = conv["series"]
    assert base_conv["x"] == list(range(1, 8)) and base_conv["layers"][-1] == "C7"
    by_model = {s["model"]: s for s in trans["series"]}
    base, large = by_model["wav2vec_base"], by_model["wav2vec_large"]
    # transformer depth l / L lines base (L = 12) and large (L = 24) up
    assert base["x"][6] == 0.5 == large["x"][12]
    assert base["x"][-1] == 1.0 == large["x"][-1] and len(large["x"]) == 25
    assert base["y"][5] is None and base["y"][4] is not None
    assert large["y"][12] == pytest.approx(mel("wav2vec_large", "1", "T12"))
    # std only where n > 1: base has two samples, large one
    assert base["std"][0] == pytest.approx(math.sqrt(0.5) * 0.01, rel=1e-9)
    assert all(v is None for v in large["std"])
    twin = by_model["wav2vec_base_random"]
    assert twin["style"] == "dashed" and base["style"] == "solid"
    assert twin["colour"] == base["colour"] != large["colour"]
    assert twin["label"] == "wav2vec 2.0 Base, random init"
    assert trans["baselines"] == [{"label": "fbank", "value": 0.5}]
    assert trans["y_label"] == "PWCCA similarity"


def test_one_metric_per_axis_and_legends(agg):
    figs = {f["name"]: f for f in analysis_figures(agg)}
    intra = figs["cca-intra"]
    assert intra["grid"] == [2, 1]
    assert sorted(p["y_label"] for p in intra["panels"]) == ["CKA similarity",
                                                             "PWCCA similarity"]
    for panel in intra["panels"]:
        assert len({s["variant"] for s in panel["series"]}) == 1
    (inter,) = figs["cca-inter"]["panels"][0]["series"]
    assert inter["label"] == "wav2vec 2.0 Base vs HuBERT Base"
    # wordsim: micro and macro axes, per-benchmark axes in a figure of their own
    ws = figs["wordsim"]
    assert [p["y_label"] for p in ws["panels"]] == ["Spearman ρ (micro average)",
                                                    "Spearman ρ (macro average)"]
    macro = ws["panels"][1]["series"][0]
    assert macro["y"] == pytest.approx([0.3 - 0.01 * t for t in range(13)])
    bench = figs["wordsim-benchmarks"]
    assert [p["y_label"] for p in bench["panels"]] == ["Spearman ρ (men)",
                                                       "Spearman ρ (simlex999)"]
    assert bench["panels"][0]["series"][0]["y"][3] == pytest.approx(0.06)
    # no conv layers (AV-HuBERT): no conv panel; unknown analysis: plotted under its name
    assert figs["sts"]["grid"] == [1, 1] and figs["sts"]["panels"][0]["y_label"] == "Spearman ρ"
    assert figs["my-probe"]["title"] == "my-probe"
    assert figs["my-probe"]["panels"][0]["y_label"] == "score"


def test_ylims_fixed_or_with_a_minimum_span(agg):
    figs = {f["name"]: f for f in analysis_figures(agg, ylims={"cca-mel": (0.0, 1.0),
                                                               "wordsim:macro": (-1, 1)})}
    assert all(p["ylim"] == [0.0, 1.0] for p in figs["cca-mel"]["panels"])
    assert figs["wordsim"]["panels"][1]["ylim"] == [-1.0, 1.0]
    # wordsim benchmarks span 0..0.24 and 0..-0.12: automatic range with 5 % padding
    men = figs["wordsim-benchmarks"]["panels"][0]["ylim"]
    assert men == pytest.approx([-0.012, 0.252])
    flat = aggregate(tidy_rows([{"analysis": "mi-phone", "model": "m", "split": "s",
                                 "sample": "1", "layer": f"T{t}", "score": 0.17 + 1e-3 * t}
                                for t in range(3)]))
    (panel,) = analysis_figures(flat)[0]["panels"]
    lo, hi = panel["ylim"]
    assert hi - lo == pytest.approx(0.11)  # at least 0.1 (+ padding): noise not blown up


def test_overview_grid_shares_rows_and_marks_gaps(agg):
    fig = overview_figure(agg, names={"wav2vec_base": "W2V-B"})
    models = ["avhubert_base_lrs3", "wav2vec_base", "wav2vec_large"]
    keys = ["cca-inter", "cca-intra", "cca-intra", "cca-mel", "my-probe", "sts", "wordsim"]
    # more models than fit two analyses in a row of 4: one analysis (3 cells) per row
    assert fig["grid"] == [len(keys), len(models)]
    assert [p["title"] for p in fig["panels"][:3]] == [
        "CCA-inter (PWCCA)\nAV-HuBERT Base (LRS3)", "CCA-inter (PWCCA)\nW2V-B",
        "CCA-inter (PWCCA)\nwav2vec 2.0 Large"]
    mel_row = [p for p in fig["panels"] if p["row"] == keys.index("cca-mel")]
    assert len({tuple(p["ylim"]) for p in mel_row}) == 1
    cell = mel_row[1]
    assert {s["model"] for s in cell["series"]} == {"wav2vec_base", "wav2vec_base_random"}
    base = next(s for s in cell["series"] if s["model"] == "wav2vec_base")
    # a shared depth axis: x is l / L for every model
    assert base["label"] == "W2V-B" and base["y"][5] is None and base["x"][6] == 0.5
    assert mel_row[0]["series"] == []  # AV-HuBERT has no cca-mel result
    # the depth label only under the lowest cell of each column
    assert [p["x_label"] != "" for p in fig["panels"]] == [p["row"] == len(keys) - 1
                                                          for p in fig["panels"]]
    # a legend entry per model in its colour, and one for the dashed random twins
    assert [e["label"] for e in fig["legend"]] == ["AV-HuBERT Base (LRS3)", "W2V-B",
                                                   "wav2vec 2.0 Large", "random init (dashed)"]
    colours = {s["model"]: s["colour"] for p in fig["panels"] for s in p["series"]}
    assert [e["colour"] for e in fig["legend"][:3]] == [colours[m] for m in models]


def test_overview_wraps_few_models_into_a_page_grid(agg):
    one = [r for r in agg if r["model"] == "wav2vec_base"]
    fig = overview_figure(one, max_cols=4)
    # 6 analysis keys of one model, 4 per row: 2 rows of 4 columns
    assert fig["grid"] == [2, 4]
    assert [(p["row"], p["col"]) for p in fig["panels"]] == [(0, 0), (0, 1), (0, 2), (0, 3),
                                                              (1, 0), (1, 1)]
    # the depth axis is labelled where no cell lies below: row 1, and row 0 cols 2-3
    assert [bool(p["x_label"]) for p in fig["panels"]] == [False, False, True, True, True,
                                                           True]
    assert overview_figure(one, max_cols=2)["grid"] == [3, 2]


@pytest.mark.parametrize("width", ["page", "column"])
def test_overview_y_labels_stay_beside_their_own_cell(agg, width):
    """A long y label (ABX's "error rate (%, lower is better)") is wrapped to the cell's
    height: drawn, no label reaches into the cell above or below its axes."""
    from lwa_cli.report.style import width_preset

    one = [r for r in agg if r["model"] == "wav2vec_base"]
    fig = overview_figure(one, max_cols=width_preset(width).overview_cols)
    for panel in fig["panels"]:
        panel["y_label"] = "ABX error rate (%, lower is better)"
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    drawn = draw(fig, width)
    canvas = FigureCanvasAgg(drawn)
    canvas.draw()  # lays the figure out
    renderer = canvas.get_renderer()
    for ax in drawn.axes:
        label = ax.yaxis.label.get_window_extent(renderer)
        box = ax.get_window_extent(renderer)
        assert "\n" in ax.get_ylabel()
        assert label.height <= box.height * 1.25, (width, label.height, box.height)


# -- names, options ---------------------------------------------------------------------------

def test_names_file_and_option_parsing(tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("# display names\nwav2vec_base = w2v2 (B)\n\nmine=My model  # ours\n")
    table = load_names(names)
    assert table == {"wav2vec_base": "w2v2 (B)", "mine": "My model"}
    assert display_name("wav2vec_base_random", table) == "w2v2 (B), random init"
    assert display_name("hubert_large") == "HuBERT Large" and display_name("x") == "x"
    names.write_text("ok = fine\njust a name\n")
    with pytest.raises(LwaUsageError, match=r"names.txt:2: expected `model = Display name`"):
        load_names(names)
    assert parse_ylims(["cca-mel=0:1", "wordsim:macro=-0.5:0.5"]) == {
        "cca-mel": (0.0, 1.0), "wordsim:macro": (-0.5, 0.5)}
    with pytest.raises(LwaUsageError, match="LO < HI"):
        parse_ylims(["cca-mel=1:0"])
    assert parse_baselines(["wordsim=GloVe 6B:0.41", "wordsim=AGWE:0.3"]) == {
        "wordsim": [("GloVe 6B", 0.41), ("AGWE", 0.3)]}
    with pytest.raises(LwaUsageError, match="ANALYSIS=LABEL:VALUE"):
        parse_baselines(["wordsim=0.4"])


# -- files -----------------------------------------------------------------------------------

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-", "svg": b"<?xml"}


@pytest.fixture(scope="module")
def small_ws(tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("figs") / "ws").ensure()
    for record in records():
        if record["analysis"] == "cca-mel" and record["model"] != "wav2vec_large" \
                and record["layer"][0] == "T":
            save_result(ws, {"inputs": {}, "options": {}, "provenance": "synthetic",
                             **record}, tag=None)
    return ws


@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
def test_figure_files_are_valid_deterministic_and_match_the_sidecar(small_ws, tmp_path, fmt):
    first = build_report(small_ws, tmp_path / "a", fmt=fmt, dpi=60)
    assert set(first.plots) == {"profile", "overview", "cca-mel"}
    sidecar = json.loads(first.figures.read_text())
    assert sidecar["format"] == fmt and sidecar["dpi"] == 60
    expected = {"profile": profile_figure(first.rows), "overview": overview_figure(first.rows),
                "cca-mel": analysis_figures(first.rows)[0]}
    for name, path in first.plots.items():
        data = path.read_bytes()
        assert path.suffix == f".{fmt}" and data.lstrip()[:5] == MAGIC[fmt][:5]
        assert len(data) > 2000
        stored = sidecar["figures"][name]
        assert stored["file"] == path.name
        assert json.loads(json.dumps({k: v for k, v in stored.items()
                                      if k not in ("file", "png", "size_in")})) == \
            json.loads(json.dumps(expected[name]))
    again = build_report(small_ws, tmp_path / "b", fmt=fmt, dpi=60)
    for name, path in first.plots.items():
        assert again.plots[name].read_bytes() == path.read_bytes(), name
    page = first.html.read_text()
    if fmt == "pdf":
        # the page shows PNGs written beside the PDFs, and links the PDFs
        assert 'href="profile.pdf"' in page and page.count("data:image/png;base64,") == 3
        for name, path in first.plots.items():
            png = path.with_suffix(".png")
            assert png.read_bytes()[:8] == MAGIC["png"] and sidecar["figures"][name]["png"] \
                == png.name
    else:
        assert page.count(f"data:image/{'png' if fmt == 'png' else 'svg+xml'};base64,") == 3


def test_render_rejects_bad_format_and_dpi(agg):
    fig = profile_figure(agg)
    with pytest.raises(ValueError, match="format must be one of png, pdf, svg"):
        render(fig, "jpg")
    with pytest.raises(ValueError, match="dpi must be positive"):
        render(fig, "png", 0)


def test_dpi_sets_the_png_size(small_ws, tmp_path):
    import struct

    from lwa_cli.report.figdata import analysis_figures as figures_of

    rows = build_report(small_ws, tmp_path / "c", fmt="png", dpi=50).rows
    fig = figures_of(rows)[0]
    small, large = render(fig, "png", 50), render(fig, "png", 100)
    w1, h1 = struct.unpack(">II", small[16:24])
    w2, h2 = struct.unpack(">II", large[16:24])
    assert abs(w2 - 2 * w1) <= 2 and abs(h2 - 2 * h1) <= 2
    assert Path(tmp_path / "c" / "cca-mel.png").is_file()
