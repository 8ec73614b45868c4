"""The profile figure: every analysis of a model on one axis, each min-max normalised.

A line whose range is below its noise (`lwa_cli.report.figdata.within_noise`: the CV trial
spread, else the spread over samples, else 0.1 % of its values) is not blown up to fill the
axis: it is drawn flat at 0.5, grey, and labelled so; every label gives the raw range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lwa_cli.analyses import ANALYSES

from .analyses import display_name, info, trained_twin
from .figdata import (
    Row,
    _groups,
    _series,
    _shared_settings,
    flat_noise,
    variant_parts,
    within_noise,
)
from .style import FLAT_COLOUR, analysis_style


def profile_figure(rows: Sequence[Row], *, names: Mapping[str, str] | None = None
                   ) -> dict[str, Any] | None:
    """The all-in-one profile: per model, every analysis min-max normalised, against layer.

    One panel per model (stacked; random-init twins of a present model are left out, they
    are baselines in the per-analysis figures), one line per (analysis, variant, split) of
    the analysis's score on the transformer layers: ``(m - min) / (max - min)`` over the
    line's layers. A line whose range is below its noise (`flat_noise`) is not scaled up:
    it is drawn flat at 0.5, grey, and labelled "flat"; every label gives the raw range.
    An analysis keeps its colour and marker (registry order) in every panel and report;
    its variants differ by line style. None when no transformer result.
    """
    scores = [r for r in rows if r["measure"] == "score" and r["block"] == "transformer"]
    present = {r["model"] for r in scores}
    models = sorted(m for m in present if trained_twin(m) not in present)
    if not models:
        return None
    order = list(ANALYSES)
    unknown = sorted({r["analysis"] for r in scores} - set(order))
    panels = []
    for index, model in enumerate(models):
        own = [r for r in scores if r["model"] == model]
        # what tells an analysis's variants apart (e.g. AWD with and without a token filter)
        shared = {a: _shared_settings([r for r in own if r["analysis"] == a])
                  for a in {r["analysis"] for r in own}}
        variants = {a: sorted({(r["variant"], r["split"]) for r in scores
                               if r["analysis"] == a}) for a in shared}
        series = []
        for kind, pts in sorted(_groups(own, "analysis", "variant", "split").items()):
            analysis = kind[0]
            # the split is named only where one analysis has several
            splits = len({r["split"] for r in own if r["analysis"] == analysis})
            style = analysis_style(order.index(analysis) if analysis in order
                                   else len(order) + unknown.index(analysis))
            slot = variants[analysis].index(kind[1:])
            line = _series(sorted(pts, key=lambda p: p["number"]), "transformer", "number",
                           _profile_label(pts[0], names, splits, shared[analysis]),
                           style["colour"], slot)
            line["marker"] = style["marker"]
            line["linestyle"] = ("-", "--", "-.", ":")[slot % 4] if slot else \
                style["linestyle"]
            _normalise(line)
            series.append(line)
        panels.append({"row": index, "col": 0, "title": display_name(model, names),
                       "block": "transformer", "x_label": "transformer layer",
                       "y_label": "normalised score", "ylim": [-0.05, 1.05],
                       "series": series, "baselines": []})
    return {"name": "profile", "kind": "profile",
            "title": "Layer-wise profile (each analysis min-max normalised)",
            "grid": [len(models), 1], "panels": panels}


def _span_text(lo: float, hi: float) -> str:
    """``lo–hi`` with as many significant digits as tell them apart (at most 6)."""
    for digits in range(3, 7):
        if f"{lo:.{digits}g}" != f"{hi:.{digits}g}":
            break
    return f"{lo:.{digits}g}–{hi:.{digits}g}"


def _normalise(line: dict[str, Any]) -> None:
    """Min-max scale a profile line in place, or flatten it when its range is noise."""
    values = [y for y in line["y"] if y is not None]
    lo, hi = (min(values), max(values)) if values else (math.nan, math.nan)
    noise, what = flat_noise(line)
    flat = within_noise(line)
    line["raw"], line["range"], line["noise"], line["noise_kind"] = line["y"], [lo, hi], \
        noise, what
    line["flat"] = flat
    line["y"] = [None if y is None else (0.5 if flat or hi == lo else (y - lo) / (hi - lo))
                 for y in line["y"]]
    line["std"] = [None] * len(line["y"])
    line["band"] = [None] * len(line["y"])
    if line["best"] is not None and not flat:  # marked on the scaled line, raw value kept
        best = line["best"]
        best["value"], best["y"] = best["y"], line["y"][line["layers"].index(best["layer"])]
    else:
        line["best"] = None
    if values:
        line["label"] += f" [{_span_text(lo, hi)}" + (", flat: range < " + (
            f"{what} {noise:.2g}" if noise is not None else "0.1 %") + "]" if flat else "]")
    if flat:
        line["colour"] = FLAT_COLOUR


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
