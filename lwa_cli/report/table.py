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
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from lwa_cli.models.registry import STANDARD_CONV, get_spec

KEY_COLUMNS: tuple[str, ...] = (
    "model", "analysis", "split", "sample", "iter", "layer", "layer_index", "depth",
    "variant", "score",
)
"""Leading columns of the tidy table, in order; other scalar fields follow, sorted."""

VARIANT_FIELDS: tuple[str, ...] = (
    "other_model", "metric", "base_layer", "mean_score", "train_split", "n_clusters", "kmeans",
)
"""Record fields that make a different experiment, never averaged together: the other model
of ``cca-inter``, the CCA metric and base layer, and MI's clustering settings."""

AGGREGATE_COLUMNS: tuple[str, ...] = (
    "model", "analysis", "split", "variant", "layer", "layer_index", "depth",
    "mean", "std", "n", "n_samples", "n_iters",
)
"""Columns of an aggregated row, in order."""

_LAYER_RE = re.compile(r"^([CT])(\d+)$")
# Bookkeeping, not results.
_DROPPED = frozenset({"lwa_format_version", "file", "provenance", "cached"})
_REQUIRED = ("analysis", "model", "split", "sample", "layer", "score")


def parse_layer(name: str) -> tuple[str, int] | None:
    """``"C3"`` → ``("C", 3)``, ``"T10"`` → ``("T", 10)``; None for anything else."""
    match = _LAYER_RE.match(name)
    return (match.group(1), int(match.group(2))) if match else None


def layer_position(name: str, n_conv: int) -> int:
    """Sortable depth of a layer: ``C1..Cn`` → ``1..n``, ``Tj`` → ``n + 1 + j``.

    Raises
    ------
    ValueError : `name` is not a canonical layer name.
    """
    parsed = parse_layer(name)
    if parsed is None:
        raise ValueError(f"not a layer name: {name!r}")
    kind, number = parsed
    return number if kind == "C" else n_conv + 1 + number


def model_geometry(model: str, layers: Iterable[str],
                   stored: tuple[int, int] | None = None) -> tuple[int, int]:
    """(conv blocks, last transformer layer) of a model.

    Registered models use the registry (so that depth does not depend on which layers happen
    to have results; FaST-VGS: its 8 exposed layers, AV-HuBERT: no conv blocks); other names
    use `stored`, the geometry their results recorded (`record_geometry`), else the seven
    standard conv blocks and no transformer layer; the largest stored layer numbers widen
    either.
    """
    spec = get_spec(model)
    if spec is not None:
        n_conv, n_trans = spec.n_conv, spec.n_layers
    else:
        n_conv, n_trans = stored if stored is not None else (len(STANDARD_CONV), 0)
    for name in layers:
        parsed = parse_layer(name)
        if parsed is None:
            continue
        kind, number = parsed
        if kind == "C":
            n_conv = max(n_conv, number)
        else:
            n_trans = max(n_trans, number)
    return n_conv, n_trans


def record_geometry(record: Mapping[str, Any]) -> tuple[int, int] | None:
    """(conv blocks, transformer layers) of the record's model as its feature inputs recorded
    them (``inputs.*.geometry``), or None for records made before they did."""
    inputs = record.get("inputs")
    for ref in inputs.values() if isinstance(inputs, Mapping) else ():
        geo = ref.get("geometry") if isinstance(ref, Mapping) else None
        if isinstance(geo, Mapping) and geo.get("model") == record.get("model") \
                and _is_number(geo.get("n_conv")) and _is_number(geo.get("n_layers")):
            return int(geo["n_conv"]), int(geo["n_layers"])
    return None


def layer_depth(name: str, n_conv: int, n_trans: int) -> float:
    """Depth in 0..1 within a model: ``C1`` → 0, ``T<n_trans>`` → 1, evenly spaced between."""
    last = n_conv + 1 + n_trans
    return (layer_position(name, n_conv) - 1) / max(last - 1, 1)


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
    if not isinstance(record["layer"], str) or parse_layer(record["layer"]) is None:
        return f"has an unknown layer {record['layer']!r}"
    return None


def tidy_rows(records: Sequence[Mapping[str, Any]],
              on_skip: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """One tidy row per usable result record, sorted for reading.

    Parameters
    ----------
    records : stored result records (see `lwa_cli.workspace.results.load_results`).
    on_skip : called with a one-line reason for each record that cannot be used (a missing
        field, a non-numeric score, an unknown layer name).

    Returns
    -------
    Rows with the `KEY_COLUMNS` (``iter`` is None where the analysis has no repetitions)
    and the record's other scalar fields; sorted by analysis, model, variant, split,
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
    stored: dict[str, tuple[int, int]] = {}
    for record in usable:
        layers_by_model.setdefault(str(record["model"]), set()).add(record["layer"])
        geo = record_geometry(record)
        if geo is not None:
            stored[str(record["model"])] = geo
    geometry = {model: model_geometry(model, layers, stored.get(model))
                for model, layers in layers_by_model.items()}
    rows = []
    for record in usable:
        model = str(record["model"])
        n_conv, n_trans = geometry[model]
        layer = record["layer"]
        iteration = record.get("iter")
        rows.append({
            "model": model,
            "analysis": str(record["analysis"]),
            "split": str(record["split"]),
            "sample": str(record["sample"]),
            "iter": int(iteration) if _is_number(iteration) else None,
            "layer": layer,
            "layer_index": layer_position(layer, n_conv),
            "depth": layer_depth(layer, n_conv, n_trans),
            "variant": variant_of(record),
            "score": float(record["score"]),
            **_flat_scalars(record),
        })
    rows.sort(key=lambda r: (r["analysis"], r["model"], r["variant"], r["split"],
                             r["layer_index"], _natural_key(r["sample"]),
                             _natural_key(r["iter"])))
    return rows


def aggregate(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± std of the score per (model, analysis, split, layer, variant).

    The std is the sample standard deviation (``ddof=1``) over all samples and iterations of
    a group, 0 for a group of one. Non-finite scores (a failed run) are left out of both and
    of ``n``; a group with no finite score has NaN mean and std. ``n_samples`` and
    ``n_iters`` count the distinct samples and iterations that contributed.
    """
    groups: dict[tuple[str, str, str, str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        key = (row["analysis"], row["model"], row["variant"], row["split"], row["layer"])
        groups.setdefault(key, []).append(row)
    out = []
    for (analysis, model, variant, split, layer), members in groups.items():
        scores = np.array([m["score"] for m in members], dtype=np.float64)
        finite = np.isfinite(scores)
        kept = scores[finite]
        n = int(kept.size)
        mean = float(kept.mean()) if n else math.nan
        std = float(kept.std(ddof=1)) if n > 1 else (0.0 if n == 1 else math.nan)
        contributing = [m for m, ok in zip(members, finite, strict=True) if ok]
        out.append({
            "model": model, "analysis": analysis, "split": split, "variant": variant,
            "layer": layer, "layer_index": members[0]["layer_index"],
            "depth": members[0]["depth"], "mean": mean, "std": std, "n": n,
            "n_samples": len({m["sample"] for m in contributing}),
            "n_iters": len({m["iter"] for m in contributing}),
        })
    out.sort(key=lambda r: (r["analysis"], r["model"], r["variant"], r["split"],
                            r["layer_index"]))
    return out


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
