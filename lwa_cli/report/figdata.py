"""What each report figure plots, as plain data: aggregated rows in, figure descriptions out.

Drawing (`figures.py`) only renders these descriptions, and the report writes them next to
the images (``figures.json``), so what a figure shows can be checked number by number.

A figure is ``{"name", "kind", "title", "grid": [rows, cols], "panels": [...]}``; a panel is
``{"row", "col", "title", "block", "x_label", "y_label", "ylim", "series", "baselines"}``;
a series is ``{"label", "model", "analysis", "measure", "variant", "split", "style",
"colour", "x", "y", "std", "n", "layers"}`` where ``y`` is None at a layer without a result
(a gap: no line is drawn across it) and ``std`` is None unless n > 1. Profile series add
``raw`` (the unnormalised means) and ``range`` (the min and max they are scaled by).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .analyses import display_name, info, score_label, trained_twin

Row = Mapping[str, Any]
YLims = Mapping[str, tuple[float, float]]
Baselines = Mapping[str, Sequence[tuple[str, float]]]

_DEPTH_LABEL = "transformer depth l / L"


def variant_parts(variant: str) -> dict[str, str]:
    """``"metric=cka; other_model=b"`` → ``{"metric": "cka", "other_model": "b"}``."""
    return dict(p.split("=", 1) for p in variant.split("; ") if "=" in p)


def _measure_label(analysis: str, measure: str, metric: str | None) -> str:
    if measure == "score":
        return score_label(analysis, metric)
    entry = info(analysis)
    for extra in entry.extra:
        if extra.field == measure:
            return extra.label
    if entry.per_benchmark and measure.startswith(entry.per_benchmark):
        return f"Spearman ρ ({measure[len(entry.per_benchmark):]})"
    return measure


def _ylim(ylims: YLims | None, analysis: str, measure: str) -> list[float] | None:
    ylims = ylims or {}
    lim = ylims.get(f"{analysis}:{measure}") or (ylims.get(analysis) if measure == "score"
                                                 else None)
    return [float(lim[0]), float(lim[1])] if lim else None


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def model_colours(models: Sequence[str]) -> dict[str, int]:
    """A colour index per model; a random-init twin shares its trained model's colour."""
    trained = sorted({trained_twin(m) or m for m in models})
    return {m: trained.index(trained_twin(m) or m) for m in models}


def _line(points: Sequence[Row], block: str, x_of: str) -> dict[str, Any]:
    """x, y, std, n, layers of one line: every layer number of the block, None where absent."""
    first = points[0]
    size = int(first["n_layers"])
    start = 0 if block == "transformer" else 1
    by_number = {int(p["number"]): p for p in points}
    size = max(size, *by_number)
    numbers = list(range(start, size + 1))
    xs = [n / max(size, 1) if x_of == "depth" else n for n in numbers]
    ys, stds, ns = [], [], []
    for n in numbers:
        p = by_number.get(n)
        ok = p is not None and _finite(p["mean"])
        ys.append(float(p["mean"]) if ok else None)
        stds.append(float(p["std"]) if ok and p["n"] > 1 and _finite(p["std"]) else None)
        ns.append(int(p["n"]) if p is not None else 0)
    prefix = "T" if block == "transformer" else "C"
    return {"x": xs, "y": ys, "std": stds, "n": ns, "layers": [f"{prefix}{n}" for n in numbers]}


def _groups(rows: Sequence[Row], *keys: str) -> dict[tuple, list[Row]]:
    out: dict[tuple, list[Row]] = {}
    for row in rows:
        out.setdefault(tuple(row[k] for k in keys), []).append(row)
    return out


def _legend(row: Row, names: Mapping[str, str] | None, splits: int, shared: set[str]) -> str:
    """Display name, "vs <other model>" for cca-inter, and what tells this line apart."""
    parts = variant_parts(row["variant"])
    label = display_name(row["model"], names)
    other = parts.pop("other_model", None)
    if other is not None:
        label += f" vs {display_name(other, names)}"
    parts.pop("metric", None)  # one metric per axis: the axis label names it
    extra = [f"{k}={v}" for k, v in parts.items() if f"{k}={v}" not in shared]
    if splits > 1:
        extra.append(row["split"])
    return f"{label} ({', '.join(extra)})" if extra else label


def _shared_settings(rows: Sequence[Row]) -> set[str]:
    sets = [{f"{k}={v}" for k, v in variant_parts(r["variant"]).items()} for r in rows]
    return set.intersection(*sets) if sets else set()


def _series(points: Sequence[Row], block: str, x_of: str, label: str,
            colour: int) -> dict[str, Any]:
    first = points[0]
    return {"label": label, "model": first["model"], "analysis": first["analysis"],
            "measure": first["measure"], "variant": first["variant"], "split": first["split"],
            "style": "dashed" if trained_twin(first["model"]) else "solid", "colour": colour,
            **_line(points, block, x_of)}


def analysis_figures(rows: Sequence[Row], *, names: Mapping[str, str] | None = None,
                     ylims: YLims | None = None,
                     baselines: Baselines | None = None) -> list[dict[str, Any]]:
    """Per analysis, all models on one axis per (measure, metric) against transformer depth.

    Conv layers, where results have them, get a panel of their own on the left (x = conv
    block). Random-init twins are dashed in their model's colour; `baselines` (analysis →
    [(label, value)]) are horizontal reference lines on the analysis's score panels.
    Per-benchmark measures (wordsim) go into a second figure, ``<analysis>-benchmarks``.
    """
    colours = model_colours(sorted({r["model"] for r in rows}))
    figures = []
    for (analysis,), members in sorted(_groups(rows, "analysis").items()):
        entry = info(analysis)
        prefix = entry.per_benchmark
        main = [r for r in members if not (prefix and r["measure"].startswith(prefix))]
        bench = [r for r in members if prefix and r["measure"].startswith(prefix)]
        for name, part, title in ((analysis, main, entry.title),
                                  (f"{analysis}-benchmarks", bench,
                                   f"{entry.title}, per benchmark")):
            if part:
                figures.append(_analysis_figure(name, title, part, colours, names, ylims,
                                                baselines))
    return figures


def _analysis_figure(name: str, title: str, rows: Sequence[Row], colours: Mapping[str, int],
                     names: Mapping[str, str] | None, ylims: YLims | None,
                     baselines: Baselines | None) -> dict[str, Any]:
    with_conv = any(r["block"] == "conv" for r in rows)
    blocks = ["conv", "transformer"] if with_conv else ["transformer"]
    splits = len({r["split"] for r in rows})
    shared = _shared_settings(rows)
    panels = []
    overlays = {m.field: m.label for m in info(rows[0]["analysis"]).on_score}
    axes = _groups([r for r in rows if r["measure"] not in overlays], "measure")
    order = sorted(axes, key=lambda k: (k[0] != "score", k[0]))
    row_index = 0
    for measure_key in order:
        by_metric: dict[str | None, list[Row]] = {}
        for r in axes[measure_key]:
            by_metric.setdefault(variant_parts(r["variant"]).get("metric"), []).append(r)
        for metric in sorted(by_metric, key=lambda m: m or ""):
            members = by_metric[metric]
            analysis, measure = members[0]["analysis"], measure_key[0]
            row_panels: list[dict[str, Any]] = []
            for col, block in enumerate(blocks):
                lines = _groups([r for r in members if r["block"] == block],
                                "model", "variant", "split")
                series = [_series(sorted(pts, key=lambda p: p["number"]), block,
                                  "depth" if block == "transformer" else "number",
                                  _legend(pts[0], names, splits, shared),
                                  colours[pts[0]["model"]])
                          for _, pts in sorted(lines.items())]
                if measure == "score":  # the score's baselines, dotted, on its axis
                    series += _overlay_series(rows, overlays, block, names, splits, shared,
                                              colours)
                row_panels.append({
                    "row": row_index, "col": col,
                    "title": ("conv layers" if block == "conv" else "transformer layers")
                    if with_conv else "",
                    "block": block,
                    "x_label": "conv block" if block == "conv" else _DEPTH_LABEL,
                    "y_label": _measure_label(analysis, measure, metric),
                    "ylim": _ylim(ylims, analysis, measure),
                    "series": series,
                    "baselines": [{"label": lab, "value": float(v)}
                                  for lab, v in (baselines or {}).get(analysis, ())]
                    if measure == "score" else [],
                })
            shared_lim = row_panels[0]["ylim"] or _data_range(row_panels,
                                                              info(analysis).min_span)
            for panel in row_panels:  # conv and transformer panels of a row share y
                panel["ylim"] = shared_lim
            panels += row_panels
            row_index += 1
    return {"name": name, "kind": "analysis", "title": title,
            "grid": [row_index, len(blocks)], "panels": panels}


def _overlay_series(rows: Sequence[Row], overlays: Mapping[str, str], block: str,
                    names: Mapping[str, str] | None, splits: int, shared: set[str],
                    colours: Mapping[str, int]) -> list[dict[str, Any]]:
    """Series of the fields an analysis draws on its score axis (`Analysis.on_score`)."""
    out = []
    for rank, (field, label) in enumerate(overlays.items()):
        lines = _groups([r for r in rows if r["measure"] == field and r["block"] == block],
                        "model", "variant", "split")
        for _, pts in sorted(lines.items()):
            series = _series(sorted(pts, key=lambda p: p["number"]), block,
                             "depth" if block == "transformer" else "number",
                             f"{_legend(pts[0], names, splits, shared)}: {label}",
                             colours[pts[0]["model"]])
            out.append({**series, "style": "baseline", "dash": rank})
    return out


def profile_figure(rows: Sequence[Row], *, names: Mapping[str, str] | None = None
                   ) -> dict[str, Any] | None:
    """The all-in-one profile: per model, every analysis min-max normalised, against layer.

    One panel per model (stacked; random-init twins of a present model are left out, they
    are baselines in the per-analysis figures), one line per (analysis, variant, split) of
    the analysis's score on the transformer layers: ``(m - min) / (max - min)`` over the
    line's layers (0.5 throughout for a constant line). None when no transformer result.
    """
    scores = [r for r in rows if r["measure"] == "score" and r["block"] == "transformer"]
    present = {r["model"] for r in scores}
    models = sorted(m for m in present if trained_twin(m) not in present)
    if not models:
        return None
    # one colour per line kind in every panel (beyond 10, the line style changes too)
    kinds = sorted({(r["analysis"], r["variant"], r["split"]) for r in scores})
    panels = []
    for index, model in enumerate(models):
        own = [r for r in scores if r["model"] == model]
        # what tells an analysis's variants apart (e.g. AWD with and without a token filter)
        shared = {a: _shared_settings([r for r in own if r["analysis"] == a])
                  for a in {r["analysis"] for r in own}}
        series = []
        for kind, pts in sorted(_groups(own, "analysis", "variant", "split").items()):
            analysis = kind[0]
            # the split is named only where one analysis has several
            splits = len({r["split"] for r in own if r["analysis"] == analysis})
            line = _series(sorted(pts, key=lambda p: p["number"]), "transformer", "number",
                           _profile_label(pts[0], names, splits, shared[analysis]),
                           kinds.index(kind))
            values = [y for y in line["y"] if y is not None]
            lo, hi = (min(values), max(values)) if values else (math.nan, math.nan)
            line["raw"], line["range"] = line["y"], [lo, hi]
            line["y"] = [None if y is None else (0.5 if hi == lo else (y - lo) / (hi - lo))
                         for y in line["y"]]
            line["std"] = [None] * len(line["y"])
            series.append(line)
        panels.append({"row": index, "col": 0, "title": display_name(model, names),
                       "block": "transformer", "x_label": "transformer layer",
                       "y_label": "normalised score", "ylim": [-0.05, 1.05],
                       "series": series, "baselines": []})
    return {"name": "profile", "kind": "profile",
            "title": "Layer-wise profile (each analysis min-max normalised)",
            "grid": [len(models), 1], "panels": panels}


def _profile_label(row: Row, names: Mapping[str, str] | None, splits: int,
                   shared: set[str]) -> str:
    parts = variant_parts(row["variant"])
    label = info(row["analysis"]).short
    extra = []
    if "metric" in parts:
        extra.append(parts["metric"].upper())
    if "other_model" in parts:
        extra.append(f"vs {display_name(parts['other_model'], names)}")
    extra += [f"{k}={v}" for k, v in parts.items()
              if k not in ("metric", "other_model") and f"{k}={v}" not in shared]
    if splits > 1:
        extra.append(row["split"])
    return f"{label} ({', '.join(extra)})" if extra else label


def overview_figure(rows: Sequence[Row], *, names: Mapping[str, str] | None = None,
                    ylims: YLims | None = None,
                    baselines: Baselines | None = None) -> dict[str, Any] | None:
    """A grid for a paper: one row per (analysis, metric), one column per model.

    Each cell shows the raw mean score (± std where n > 1) against the transformer layer;
    a model's random-init twin is dashed in its cell. A row shares its y range (the fixed
    `ylims` entry, else the range of its data) so models compare at a glance.
    """
    scores = [r for r in rows if r["measure"] == "score" and r["block"] == "transformer"]
    present = {r["model"] for r in scores}
    models = sorted(m for m in present if trained_twin(m) not in present)
    if not models:
        return None
    keys = sorted({(r["analysis"], variant_parts(r["variant"]).get("metric") or "")
                   for r in scores})
    colours = model_colours(sorted(present))
    panels = []
    for i, (analysis, metric) in enumerate(keys):
        members = [r for r in scores if r["analysis"] == analysis
                   and (variant_parts(r["variant"]).get("metric") or "") == metric]
        cells = []
        for j, model in enumerate(models):
            own = [r for r in members if r["model"] in (model, f"{model}_random")]
            splits = len({r["split"] for r in own})
            shared = _shared_settings(own)
            series = [_series(sorted(p, key=lambda q: q["number"]), "transformer", "number",
                              _legend(p[0], names, splits, shared), colours[p[0]["model"]])
                      for _, p in sorted(_groups(own, "model", "variant", "split").items())]
            cells.append({"row": i, "col": j,
                          "title": display_name(model, names) if i == 0 else "",
                          "block": "transformer",
                          "x_label": "transformer layer" if i == len(keys) - 1 else "",
                          "y_label": (f"{info(analysis).short}\n{score_label(analysis, metric)}"
                                      if j == 0 else ""),
                          "ylim": _ylim(ylims, analysis, "score"), "series": series,
                          "baselines": [{"label": lab, "value": float(v)} for lab, v
                                        in (baselines or {}).get(analysis, ())]})
        shared_lim = cells[0]["ylim"] or _data_range(cells, info(analysis).min_span)
        for cell in cells:
            cell["ylim"] = shared_lim
        panels += cells
    return {"name": "overview", "kind": "overview", "title": "Overview (analyses × models)",
            "grid": [len(keys), len(models)], "panels": panels}


def _data_range(cells: Sequence[Mapping[str, Any]], min_span: float | None = None
                ) -> list[float] | None:
    """The y range of the cells' lines, bands and baselines, padded by 5 %, widened about
    its centre to at least `min_span`."""
    values = []
    for cell in cells:
        values += [b["value"] for b in cell["baselines"]]
        for s in cell["series"]:
            for y, sd in zip(s["y"], s["std"], strict=True):
                if y is not None:
                    values += [y - (sd or 0.0), y + (sd or 0.0)]
    if not values:
        return None
    lo, hi = min(values), max(values)
    if min_span is not None and hi - lo < min_span:
        centre = (lo + hi) / 2
        lo, hi = centre - min_span / 2, centre + min_span / 2
    pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi) * 0.05, 0.01)
    return [lo - pad, hi + pad]
