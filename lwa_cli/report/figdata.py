"""What each report figure plots, as plain data: aggregated rows in, figure descriptions out.

Drawing (`figures.py`) only renders these descriptions, and the report writes them next to
the images (``figures.json``), so what a figure shows can be checked number by number.

A figure is ``{"name", "kind", "title", "grid": [rows, cols], "panels": [...]}``; a panel is
``{"row", "col", "title", "block", "x_label", "y_label", "ylim", "series", "baselines"}``;
a series is ``{"label", "model", "analysis", "measure", "variant", "split", "style",
"colour", "marker", "linestyle", "connect", "x", "y", "std", "trial_std", "band", "n",
"layers", "best"}`` where ``y`` is None at a layer without a result (a gap: no line is drawn
across it, except for a random twin, ``connect``, whose few scored layers are joined),
``std`` is None unless n > 1, ``trial_std`` is the CV trial spread, ``band`` the half-width
of the shaded band (the trial spread where there is one, else ``std``) and ``best`` the best
layer of a score line (`best_point`). ``colour`` is a hex colour (`lwa_cli.report.style`).
Profile series add ``raw`` (the unnormalised means), ``range`` (the min and max they are
scaled by), ``noise`` (the spread the range is compared with) and ``flat`` (drawn flat and
grey: the range is below the noise). Analysis figures add a ``caption`` naming N.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .analyses import display_name, info, score_label, trained_twin
from .style import model_colour, variant_style

Row = Mapping[str, Any]
YLims = Mapping[str, tuple[float, float]]
Baselines = Mapping[str, Sequence[tuple[str, float]]]
Colours = Mapping[str, str]

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


def model_colours(models: Sequence[str], pinned: Colours | None = None) -> dict[str, str]:
    """A hex colour per model, from its name alone (`style.model_colour`) unless `pinned`;
    a random-init twin shares its trained model's colour."""
    return {m: model_colour(trained_twin(m) or m, pinned) for m in models}


def best_point(line: Mapping[str, Any], higher_is_better: bool) -> dict[str, Any] | None:
    """The layer of a line with the best mean (the first on a tie), by the registry's
    ``higher_is_better``; None for a line without a value."""
    points = [(y, i) for i, y in enumerate(line["y"]) if y is not None]
    if not points:
        return None
    y, i = (max if higher_is_better else min)(points, key=lambda p: (p[0], -p[1]))
    return {"layer": line["layers"][i], "x": line["x"][i], "y": y,
            "rule": "max" if higher_is_better else "min"}


def _line(points: Sequence[Row], block: str, x_of: str) -> dict[str, Any]:
    """x, y, std, n, layers of one line: every layer number of the block, None where absent."""
    first = points[0]
    size = int(first["n_layers"])
    start = 0 if block == "transformer" else 1
    by_number = {int(p["number"]): p for p in points}
    size = max(size, *by_number)
    numbers = list(range(start, size + 1))
    xs = [n / max(size, 1) if x_of == "depth" else n for n in numbers]
    ys, stds, trials, ns = [], [], [], []
    for n in numbers:
        p = by_number.get(n)
        ok = p is not None and _finite(p["mean"])
        ys.append(float(p["mean"]) if ok else None)
        stds.append(float(p["std"]) if ok and p["n"] > 1 and _finite(p["std"]) else None)
        trial = p.get("trial_std") if ok else None
        trials.append(float(trial) if _finite(trial) else None)
        ns.append(int(p["n"]) if p is not None else 0)
    prefix = "T" if block == "transformer" else "C"
    # the band: the CV trial spread where the analysis has one, else the spread over samples
    band = trials if any(t is not None for t in trials) else stds
    return {"x": xs, "y": ys, "std": stds, "trial_std": trials, "band": band,
            "band_kind": ("CV trial std" if band is trials else "std over samples")
            if any(b is not None for b in band) else None,
            "n": ns, "layers": [f"{prefix}{n}" for n in numbers]}


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


def _series(points: Sequence[Row], block: str, x_of: str, label: str, colour: str,
            variant_index: int = 0) -> dict[str, Any]:
    first = points[0]
    twin = trained_twin(first["model"]) is not None
    line = {"label": label, "model": first["model"], "analysis": first["analysis"],
            "measure": first["measure"], "variant": first["variant"], "split": first["split"],
            "style": "dashed" if twin else "solid", "colour": colour,
            **variant_style(variant_index, twin), "connect": twin,
            **_line(points, block, x_of)}
    # a best layer for the trained models' scores (a random twin is a baseline)
    line["best"] = (best_point(line, info(first["analysis"]).higher_is_better)
                    if first["measure"] == "score" and not twin else None)
    if line["best"] is not None:  # a best layer within the noise is listed, not marked
        line["best"]["within_noise"] = within_noise(line)
    return line


def flat_noise(line: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """(spread, what it is) a line's range is compared with: the mean CV trial std, else
    the mean std over samples; (None, None) for a line with neither."""
    for field, what in (("trial_std", "CV trial std"), ("std", "std over samples")):
        values = [v for v in line[field] if v is not None]
        if values:
            return sum(values) / len(values), what
    return None, None


def within_noise(line: Mapping[str, Any]) -> bool:
    """Whether a line's range is below its noise (`flat_noise`), or, with no spread known,
    within 0.1 % of its values: such a line is flat for all it shows."""
    values = [y for y in line["y"] if y is not None]
    if not values:
        return False
    lo, hi = min(values), max(values)
    noise, _ = flat_noise(line)
    return hi - lo < noise if noise is not None else hi - lo <= 1e-3 * max(abs(lo), abs(hi))


def _variant_indices(rows: Sequence[Row]) -> dict[tuple[str, str], int]:
    """A style slot per (variant, split) of one figure, the same for every model in it."""
    kinds = sorted({(r["variant"], r["split"]) for r in rows})
    return {k: i for i, k in enumerate(kinds)}


def analysis_figures(rows: Sequence[Row], *, names: Mapping[str, str] | None = None,
                     ylims: YLims | None = None, baselines: Baselines | None = None,
                     colours: Colours | None = None,
                     counts: Mapping[str, Mapping[str, str]] | None = None
                     ) -> list[dict[str, Any]]:
    """Per analysis, all models on one axis per (measure, metric) against transformer depth.

    Conv layers, where results have them, get a panel of their own on the left (x = conv
    block). Random-init twins are dashed in their model's colour; `baselines` (analysis →
    [(label, value)]) are horizontal reference lines on the analysis's score panels.
    Per-benchmark measures (wordsim) go into a second figure, ``<analysis>-benchmarks``.
    `colours` pins model colours (``--colors``); `counts` (`counts_of`) gives each figure
    a caption naming N per line.
    """
    pinned = colours
    colours = model_colours(sorted({r["model"] for r in rows}), pinned)
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
                figure = _analysis_figure(name, title, part, colours, names, ylims, baselines)
                figure["caption"] = caption(part, counts or {}, names)
                figures.append(figure)
    return figures


def caption(rows: Sequence[Row], counts: Mapping[str, Mapping[str, str]],
            names: Mapping[str, str] | None = None) -> str:
    """What a figure averages and over how much data: N per line (`counts_of`), the band."""
    lines = []
    for key in sorted({_count_key(r) for r in rows}):
        got = counts.get(key)
        if got:
            model, variant = key.split("|")[1], key.split("|")[2]
            what = display_name(model, names) + (f" ({variant})" if variant else "")
            lines.append(f"{what}: " + ", ".join(f"{k} = {v}" for k, v in got.items()))
    n = sorted({int(r["n_samples"]) for r in rows if r.get("n_samples") is not None})
    text = "" if not n else f"Samples per point: {n[0]}." if n[0] == n[-1] else \
        f"Samples per point: {n[0]}–{n[-1]}."
    spread = "Bands: CV trial std where the analysis has CV trials, else std over samples."
    if rows and rows[0]["measure"] == "score":
        better = "highest" if info(rows[0]["analysis"]).higher_is_better else "lowest"
        spread += f" ★: a line's best layer ({better} mean; not marked within the noise)."
    return " ".join(p for p in (text, spread, "; ".join(lines) + ("." if lines else "")) if p)


COUNT_FIELDS: tuple[str, ...] = ("n", "tokens_total", "pairs", "same_pairs", "n_train",
                                 "n_eval", "n_scored", "n_utterances", "n_triplets")
"""Record fields that say how much data a result rests on (rows, tokens, pairs kept)."""


def _count_key(row: Row) -> str:
    return "|".join((row["analysis"], row["model"], row["variant"], row["split"]))


def counts_of(tidy: Sequence[Row]) -> dict[str, dict[str, str]]:
    """Per ``analysis|model|variant|split``, each count field (`COUNT_FIELDS`, wordsim's
    ``pairs_kept_<benchmark>``) as one value or ``lo–hi`` over layers and samples."""
    seen: dict[str, dict[str, set[int]]] = {}
    for row in tidy:
        own = seen.setdefault(_count_key(row), {})
        for field, value in row.items():
            if (field in COUNT_FIELDS or field.startswith("pairs_kept_")) and \
                    isinstance(value, int | float) and not isinstance(value, bool) \
                    and math.isfinite(value):
                own.setdefault(field, set()).add(int(value))
    return {key: {f: (str(min(v)) if min(v) == max(v) else f"{min(v)}–{max(v)}")
                  for f, v in sorted(fields.items())}
            for key, fields in seen.items() if fields}


def _analysis_figure(name: str, title: str, rows: Sequence[Row], colours: Mapping[str, int],
                     names: Mapping[str, str] | None, ylims: YLims | None,
                     baselines: Baselines | None) -> dict[str, Any]:
    with_conv = any(r["block"] == "conv" for r in rows)
    blocks = ["conv", "transformer"] if with_conv else ["transformer"]
    splits = len({r["split"] for r in rows})
    shared = _shared_settings(rows)
    slots = _variant_indices(rows)
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
                                  colours[pts[0]["model"]], slots[(key[1], key[2])])
                          for key, pts in sorted(lines.items())]
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
                    colours: Mapping[str, str]) -> list[dict[str, Any]]:
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


def overview_figure(rows: Sequence[Row], *, names: Mapping[str, str] | None = None,
                    ylims: YLims | None = None, baselines: Baselines | None = None,
                    colours: Colours | None = None, max_cols: int = 4
                    ) -> dict[str, Any] | None:
    """A grid for a paper: one cell per (analysis, metric) and model, against depth l / L.

    Each cell shows the raw mean score (± its band) of one model (its random-init twin
    dashed); an analysis's cells lie side by side and share a y range (the fixed `ylims`
    entry, else the range of its data) so models compare at a glance. Cells flow into
    rows of at most `max_cols` (whole analyses per row, one analysis per row when there are
    more models than that), so that a few models do not make one tall column; every
    cell shares the depth axis, labelled on the lowest cell of each column (``x_label``).
    The figure's ``legend`` has one entry per model, in the model's colour.
    """
    scores = [r for r in rows if r["measure"] == "score" and r["block"] == "transformer"]
    present = {r["model"] for r in scores}
    models = sorted(m for m in present if trained_twin(m) not in present)
    if not models:
        return None
    keys = sorted({(r["analysis"], variant_parts(r["variant"]).get("metric") or "")
                   for r in scores})
    palette = model_colours(sorted(present), colours)
    per_row = max(1, max_cols // len(models))  # analyses per grid row
    cols = per_row * len(models)
    n_rows = math.ceil(len(keys) / per_row)
    panels = []
    for i, (analysis, metric) in enumerate(keys):
        members = [r for r in scores if r["analysis"] == analysis
                   and (variant_parts(r["variant"]).get("metric") or "") == metric]
        slots = _variant_indices(members)
        cells = []
        for j, model in enumerate(models):
            own = [r for r in members if r["model"] in (model, f"{model}_random")]
            splits = len({r["split"] for r in own})
            shared = _shared_settings(own)
            series = [_series(sorted(p, key=lambda q: q["number"]), "transformer", "depth",
                              _legend(p[0], names, splits, shared), palette[p[0]["model"]],
                              slots[(k[1], k[2])])
                      for k, p in sorted(_groups(own, "model", "variant", "split").items())]
            row, col = divmod(i * len(models) + j, cols)
            below = (row + 1) * cols + col < len(keys) * len(models)
            name = info(analysis).short + (f" ({metric.upper()})" if metric else "")
            cells.append({"row": row, "col": col,
                          "title": name + (f"\n{display_name(model, names)}"
                                           if len(models) > 1 else ""),
                          "block": "transformer",
                          "x_label": "" if below else _DEPTH_LABEL,
                          "y_label": score_label(analysis, metric) if col % len(models) == 0
                          else "",
                          "ylim": _ylim(ylims, analysis, "score"), "series": series,
                          "baselines": [{"label": lab, "value": float(v)} for lab, v
                                        in (baselines or {}).get(analysis, ())]})
        shared_lim = cells[0]["ylim"] or _data_range(cells, info(analysis).min_span)
        for cell in cells:
            cell["ylim"] = shared_lim
        panels += cells
    legend = [{"label": display_name(m, names), "model": m, "colour": palette[m]}
              for m in models]
    if any(trained_twin(m) for m in present):
        legend.append({"label": "random init (dashed)", "model": None, "colour": "#555555"})
    return {"name": "overview", "kind": "overview", "title": "Overview (analyses × models)",
            "grid": [n_rows, cols], "panels": panels, "legend": legend}


def _data_range(cells: Sequence[Mapping[str, Any]], min_span: float | None = None
                ) -> list[float] | None:
    """The y range of the cells' lines, bands and baselines, padded by 5 %, widened about
    its centre to at least `min_span`."""
    values = []
    for cell in cells:
        values += [b["value"] for b in cell["baselines"]]
        for s in cell["series"]:
            for y, sd in zip(s["y"], s["band"], strict=True):
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




# The profile figure builds on this module; imported last, re-exported here.
from .profile import profile_figure as profile_figure  # noqa: E402
