"""The tidy results table and its aggregation over samples and iterations (SPEC §9).

A *tidy row* is one stored result: its identity (model, analysis, split, sample, iter, layer,
variant), the layer's sortable position (`layer_index`) and normalised depth (`depth`), the
score, and the record's other scalar fields. An *aggregated row* is the mean ± std of the
scores of one (model, analysis, split, layer, variant) over samples and iterations.

Everything here is pure: records in, rows out.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from lwa_cli.analyses import variant_fields
from lwa_cli.models.layers import layer_index, layer_kind, split_layer
from lwa_cli.models.registry import get_spec
from lwa_cli.report.analyses import info

KEY_COLUMNS: tuple[str, ...] = (
    "model", "analysis", "split", "sample", "iter", "layer", "block", "number", "n_layers",
    "layer_index", "depth", "variant", "score",
)
"""Leading columns of the tidy table, in order; other scalar fields follow, sorted."""

VARIANT_FIELDS: tuple[str, ...] = variant_fields()
"""Record fields that make a different experiment, never averaged together: each analysis's
``variant_fields`` in the registry (`lwa_cli.analyses`), e.g. the other model of
``cca-inter``, the CCA metric, MI's clustering settings, AWD's distance and token filter."""

AGGREGATE_COLUMNS: tuple[str, ...] = (
    "model", "analysis", "split", "variant", "measure", "layer", "block", "number", "n_layers",
    "layer_index", "depth", "mean", "std", "n", "n_samples", "n_iters", "trial_std",
)
"""Columns of an aggregated row, in order."""

# Bookkeeping, not results.
_DROPPED = frozenset({"lwa_format_version", "file", "provenance", "cached"})
_REQUIRED = ("analysis", "model", "split", "sample", "layer", "score")


def layer_position(name: str, n_conv: int) -> int:
    """Sortable depth of a layer: ``C1..Cn`` → ``1..n``, ``Tj`` → ``n + 1 + j``.

    Raises
    ------
    ValueError : `name` is not a canonical layer name.
    """
    kind, number = layer_kind(name), layer_index(name)
    return number if kind == "C" else n_conv + 1 + number


def spec_geometry(spec: Mapping[str, Any] | None) -> tuple[int, int] | None:
    """(conv blocks, transformer layers L) of a feature file's ``meta["spec"]``, if it has them."""
    if not isinstance(spec, Mapping) or not _is_number(spec.get("n_layers")):
        return None
    conv = spec.get("conv_layers")
    return (len(conv) if isinstance(conv, list | tuple) else 0), int(spec["n_layers"])


def model_geometry(model: str, layers: Iterable[str],
                   spec: Mapping[str, Any] | None = None) -> tuple[int, int]:
    """(conv blocks, transformer layers L) of a model: T1..TL are its exposed layers.

    The architecture comes from `spec` (the ``meta["spec"]`` of the model's feature file)
    when given, else from the registry, so that depth never depends on which layers happen
    to have results; for an unknown model the largest stored layer numbers are used. Stored
    layers beyond the architecture widen it (a model with C layers but no registry entry).
    """
    known = spec_geometry(spec)
    if known is None:
        entry = get_spec(model)
        known = (entry.n_conv, entry.n_layers) if entry else (0, 0)
    n_conv, n_trans = known
    for name in layers:
        parsed = split_layer(name)
        if parsed is None:
            continue
        kind, number = parsed
        if kind == "C":
            n_conv = max(n_conv, number)
        else:
            n_trans = max(n_trans, number)
    return n_conv, n_trans


def layer_depth(name: str, n_conv: int, n_trans: int) -> float:
    """Depth within the layer's own block: ``Tl`` → l / L (T0 → 0, TL → 1), ``Cc`` → c / n_conv.

    Transformer depth is what lines base (L = 12) and large (L = 24) models up; conv layers
    are on an axis of their own, so they never shift the transformer's positions.
    """
    kind, number = layer_kind(name), layer_index(name)
    return number / max(n_trans if kind == "T" else n_conv, 1)


def _trial_spread(record: Mapping[str, Any]) -> tuple[float | None, int | None]:
    """(std over the record's CV trial scores, number of finite ones); None without trials."""
    trials = record.get("trial_scores")
    if not isinstance(trials, list) or not trials:
        return None, None
    values = np.array([t for t in trials if _is_number(t)], dtype=np.float64)
    values = values[np.isfinite(values)]
    spread = float(values.std(ddof=1)) if values.size > 1 else None
    return spread, int(values.size)


def variant_of(record: Mapping[str, Any]) -> str:
    """The record's experiment variant, e.g. ``"other_model=hubert_base; metric=cka"``."""
    parts = [f"{key}={_scalar_text(record[key])}" for key in VARIANT_FIELDS
             if record.get(key) is not None]
    return "; ".join(parts)


def _scalar_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _natural_key(value: Any) -> tuple[int, float, str]:
    """Sort numbers numerically and before text (``"2"`` before ``"10"``); None first."""
    if value is None:
        return (0, 0.0, "")
    text = str(value)
    try:
        return (1, float(text), text)
    except ValueError:
        return (2, 0.0, text)


def _flat_scalars(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record's scalar fields, with wordsim's per-benchmark results flattened."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in _DROPPED or key in KEY_COLUMNS:
            continue
        if value is None or isinstance(value, str | int | float | bool):
            out[key] = value
    benchmarks = record.get("benchmarks")
    if isinstance(benchmarks, Mapping):
        for bench, result in benchmarks.items():
            if not isinstance(result, Mapping):
                continue
            for field in ("rho", "pairs_kept"):
                if _is_number(result.get(field)):
                    out[f"{field}_{bench}"] = result[field]
    return out


def _problem(record: Mapping[str, Any]) -> str | None:
    """Why a record cannot enter the table, or None when it can."""
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        return f"lacks {', '.join(missing)}"
    if not _is_number(record["score"]):
        return f"has a non-numeric score {record['score']!r}"
    if not isinstance(record["layer"], str) or split_layer(record["layer"]) is None:
        return f"has an unknown layer {record['layer']!r}"
    return None


def tidy_rows(records: Sequence[Mapping[str, Any]],
              on_skip: Callable[[str], None] | None = None,
              specs: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One tidy row per usable result record, sorted for reading.

    Parameters
    ----------
    records : stored result records (see `lwa_cli.workspace.results.load_results`).
    on_skip : called with a one-line reason for each record that cannot be used (a missing
        field, a non-numeric score, an unknown layer name).
    specs : per model, the ``meta["spec"]`` of its feature file (see `model_geometry`).

    Returns
    -------
    Rows with the `KEY_COLUMNS` (``iter`` is None where the analysis has no repetitions;
    ``block`` is ``conv`` or ``transformer``, ``number`` the layer's number in it, ``depth``
    its `layer_depth`), ``trial_std``/``n_trials`` (spread of CCA's CV trial scores) and the
    record's other scalar fields; sorted by analysis, model, variant, split,
    layer depth, sample and iteration.
    """
    usable = []
    for record in records:
        why = _problem(record)
        if why is None:
            usable.append(record)
        elif on_skip is not None:
            what = record.get("file") or "/".join(
                str(record.get(key, "?")) for key in ("analysis", "model", "split", "layer"))
            on_skip(f"result {what} {why}; skipped")
    layers_by_model: dict[str, set[str]] = {}
    for record in usable:
        layers_by_model.setdefault(str(record["model"]), set()).add(record["layer"])
    specs = specs or {}
    geometry = {model: model_geometry(model, layers, specs.get(model))
                for model, layers in layers_by_model.items()}
    rows = []
    for record in usable:
        model = str(record["model"])
        n_conv, n_trans = geometry[model]
        layer = record["layer"]
        kind, number = split_layer(layer)
        iteration = record.get("iter")
        trial_std, n_trials = _trial_spread(record)
        rows.append({
            "model": model,
            "analysis": str(record["analysis"]),
            "split": str(record["split"]),
            "sample": str(record["sample"]),
            "iter": int(iteration) if _is_number(iteration) else None,
            "layer": layer,
            "block": "conv" if kind == "C" else "transformer",
            "number": number,
            "n_layers": n_conv if kind == "C" else n_trans,
            "layer_index": layer_position(layer, n_conv),
            "depth": layer_depth(layer, n_conv, n_trans),
            "variant": variant_of(record),
            "score": float(record["score"]),
            **_flat_scalars(record),
            "trial_std": trial_std,
            "n_trials": n_trials,
        })
    rows.sort(key=lambda r: (r["analysis"], r["model"], r["variant"], r["split"],
                             r["layer_index"], _natural_key(r["sample"]),
                             _natural_key(r["iter"])))
    return rows


def measures_of(analysis: str, row: Mapping[str, Any]) -> list[str]:
    """The numbers of a tidy row that get an axis: ``score`` first, then the analysis's
    extra fields and per-benchmark fields that the row has."""
    entry = info(analysis)
    out = ["score"] + [m.field for m in (*entry.extra, *entry.on_score)
                       if _is_number(row.get(m.field))]
    if entry.per_benchmark:
        out += sorted(k for k in row if k.startswith(entry.per_benchmark)
                      and _is_number(row[k]))
    return out


def aggregate(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± std per (model, analysis, split, variant, measure, layer).

    ``measure`` is ``score`` for the analysis's score and a field name for its other
    numbers (see `measures_of`: wordsim's ``macro``, ``rho_<benchmark>``, ...). The std is the
    sample standard deviation (``ddof=1``) over all samples and iterations of a group, None
    for a group of one (a spread needs n > 1). Non-finite values (a failed run) are left out
    of both and of ``n``; a group with no finite value has NaN mean. ``n_samples`` and
    ``n_iters`` count the distinct samples and iterations that contributed; ``trial_std`` is
    the mean of the results' CV-trial spreads (None without CV trials).
    """
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        for measure in measures_of(row["analysis"], row):
            key = (row["analysis"], row["model"], row["variant"], row["split"], measure,
                   row["layer"])
            groups.setdefault(key, []).append(row)
    out = []
    for (analysis, model, variant, split, measure, layer), members in groups.items():
        values = np.array([m[measure] for m in members], dtype=np.float64)
        finite = np.isfinite(values)
        kept = values[finite]
        n = int(kept.size)
        contributing = [m for m, ok in zip(members, finite, strict=True) if ok]
        spreads = [m["trial_std"] for m in contributing if m.get("trial_std") is not None]
        first = members[0]
        out.append({
            "model": model, "analysis": analysis, "split": split, "variant": variant,
            "measure": measure, "layer": layer, "block": first["block"],
            "number": first["number"], "n_layers": first["n_layers"],
            "layer_index": first["layer_index"], "depth": first["depth"],
            "mean": float(kept.mean()) if n else math.nan,
            "std": float(kept.std(ddof=1)) if n > 1 else None, "n": n,
            "n_samples": len({m["sample"] for m in contributing}),
            "n_iters": len({m["iter"] for m in contributing}),
            "trial_std": float(np.mean(spreads)) if spreads and measure == "score" else None,
        })
    out.sort(key=lambda r: (r["analysis"], r["model"], r["variant"], r["split"],
                            _measure_key(r["measure"]), r["layer_index"]))
    return out


def _measure_key(measure: str) -> tuple[int, str]:
    return (0, "") if measure == "score" else (1, measure)


def columns(rows: Sequence[Mapping[str, Any]], leading: Sequence[str] = KEY_COLUMNS) -> list[str]:
    """Column order for a table: `leading` first, then every other key, sorted."""
    others = sorted({key for row in rows for key in row} - set(leading))
    return [*leading, *others]


def csv_text(rows: Sequence[Mapping[str, Any]], leading: Sequence[str] = KEY_COLUMNS) -> str:
    """The rows as CSV text (header first; a field a row lacks, or None, is empty)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(rows, leading), restval="",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def json_safe(value: Any) -> Any:
    """A copy with NaN and infinities replaced by None, so that the JSON is standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def short_variants(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """Per (analysis, variant): the variant without the settings shared by that analysis.

    Legends and terminal tables only need what tells lines apart: if every MI result used
    500 clusters, ``n_clusters=500`` says nothing and is dropped.
    """
    parts_by_analysis: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for row in rows:
        parts = [tuple(p.split("=", 1)) for p in row["variant"].split("; ") if p]
        parts_by_analysis.setdefault(row["analysis"], {})[row["variant"]] = parts
    out: dict[tuple[str, str], str] = {}
    for analysis, variants in parts_by_analysis.items():
        shared = set.intersection(*(set(parts) for parts in variants.values()))
        for variant, parts in variants.items():
            out[(analysis, variant)] = ", ".join(f"{k}={v}" for k, v in parts
                                                 if (k, v) not in shared)
    return out
