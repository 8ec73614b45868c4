"""Stored results as data: pandas DataFrames, and the text formats of `lwa results`.

>>> from lwa_cli import results
>>> df = results.load("demo-run/workspace", analysis="cca-phone")     # doctest: +SKIP
>>> df.groupby("layer", sort=False)["score"].mean()                     # doctest: +SKIP

`load` gives one row per stored result (tidy long format), `summary` the mean ± std per
(model, analysis, split, variant, measure, layer) that `lwa results` and `lwa report` show.
Both use the report's rule for stale results (inputs changed after they were computed):
they are **left out**, and counted in ``df.attrs["n_stale"]`` (with the files and reasons
in ``df.attrs["stale"]``).

Columns of `load` (then every other scalar field of the record, sorted; a field a result
lacks is missing, NaN/None):

=============  ============================================================================
model          model name (registry or the user's)
analysis       ``cca-mel``, ``mi-phone``, ``wordsim``, ...
split          data split, e.g. ``dev-clean``
sample         sample id
iter           repetition (MI's k-means runs), else None
layer          ``C3``, ``T7``, ...
block          ``conv`` or ``transformer``
number         the layer's number within its block (T0 is the transformer input)
n_layers       conv blocks (conv) or transformer layers L (transformer) of the model
layer_index    sort key over both blocks (C1..Cn, then T0..TL)
depth          number / n_layers: T0 → 0, TL → 1 (conv layers: Cc → c / n_conv)
variant        settings that make a different experiment (metric, other_model, ...)
score          the analysis's score (CCA similarity, normalised MI, micro ρ, F1, AP, ρ)
trial_std      std over CCA's cross-validation trial scores (None without trials)
n_trials       finite CV trial scores
=============  ============================================================================

`summary` columns: `lwa_cli.report.table.AGGREGATE_COLUMNS` (``mean``, ``std`` (None when
n = 1), ``n``, ``n_samples``, ``n_iters``, ``trial_std``, and ``measure``: ``score`` or the
extra number, e.g. wordsim's ``macro`` and ``rho_<benchmark>``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lwa_cli.models.layers import match_layers
from lwa_cli.report.collect import Collected, collect
from lwa_cli.report.table import AGGREGATE_COLUMNS, KEY_COLUMNS, columns, json_safe
from lwa_cli.workspace import Workspace

if TYPE_CHECKING:  # pandas is imported when a DataFrame is asked for
    import pandas

__all__ = ["FORMATS", "SUMMARY_COLUMNS", "format_summary", "gather", "load", "summary"]

FORMATS = ("table", "csv", "tsv", "json")
"""Output formats of `lwa results`."""

SUMMARY_COLUMNS: tuple[str, ...] = (
    "model", "analysis", "split", "variant", "measure", "layer", "mean", "std", "n",
    "n_samples", "n_iters", "trial_std",
)
"""Columns `lwa results` prints, in order (``--format json`` gives every aggregate column)."""

Filter = str | Sequence[str] | None


def _as_list(value: Filter) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


Workspaces = Workspace | Path | str | Sequence[Workspace | Path | str]
"""One workspace, or several whose results are gathered together (`gather`)."""


def _workspace(workspace: Workspaces) -> Workspace | list[Workspace]:
    if isinstance(workspace, (Workspace, Path, str)):
        return workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    return [w if isinstance(w, Workspace) else Workspace(w) for w in workspace]


def gather(workspace: Workspaces, *, model: Filter = None, analysis: Filter = None,
           split: Filter = None, layer: Filter = None, require: bool = True) -> Collected:
    """The current results matching the filters (each a name or a list of names).

    `workspace` may be a list: the current results of every workspace are gathered into one
    set (one report across models studied in separate workspaces).

    Raises
    ------
    LwaError : no workspace; with `require`, no current results at all; a model found in
        several workspaces with different weights (fingerprints of its feature files).
    LwaUsageError : a requested model, analysis or split has no stored results, or a
        `layer` item (a name, a range ``T0-T6``, a group ``C``/``T``/``all``; see
        `lwa_cli.models.layers`) matches no stored layer.
    """
    got = collect(_workspace(workspace), models=_as_list(model), analyses=_as_list(analysis),
                  splits=_as_list(split), require=require)
    layers = _as_list(layer)
    if layers:
        keep = set(match_layers(layers, {r["layer"] for r in got.rows}, param="layer"))
        got.rows = [r for r in got.rows if r["layer"] in keep]
        got.aggregated = [r for r in got.aggregated if r["layer"] in keep]
    return got


def _frame(rows: list[dict[str, Any]], leading: Sequence[str], got: Collected
           ) -> pandas.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns(rows, leading) if rows else list(leading))
    frame.attrs["n_stale"] = got.n_stale
    frame.attrs["stale"] = [(r.get("file"), why) for r, why in got.stale]
    return frame


def load(workspace: Workspaces, *, model: Filter = None, analysis: Filter = None,
         split: Filter = None, layer: Filter = None) -> pandas.DataFrame:
    """One row per current stored result (columns in the module docstring).

    Stale results are left out and counted in ``df.attrs["n_stale"]``.
    """
    got = gather(workspace, model=model, analysis=analysis, split=split, layer=layer)
    return _frame(got.rows, KEY_COLUMNS, got)


def summary(workspace: Workspaces, *, model: Filter = None,
            analysis: Filter = None, split: Filter = None,
            layer: Filter = None) -> pandas.DataFrame:
    """Mean ± std per (model, analysis, split, variant, measure, layer) of current results."""
    got = gather(workspace, model=model, analysis=analysis, split=split, layer=layer)
    return _frame(got.aggregated, AGGREGATE_COLUMNS, got)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_summary(rows: Sequence[dict[str, Any]], fmt: str) -> str:
    """Aggregated rows as ``csv``, ``tsv`` or ``json`` text (``table`` is drawn by the CLI).

    CSV and TSV have the `SUMMARY_COLUMNS` (an absent std is an empty field); JSON has every
    aggregate column, with null for an absent or non-finite number.

    Raises
    ------
    ValueError : another format.
    """
    if fmt == "json":
        return json.dumps(json_safe(list(rows)), indent=1, allow_nan=False) + "\n"
    if fmt not in ("csv", "tsv"):
        raise ValueError(f"format must be one of csv, tsv, json, not {fmt!r}")
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
    writer.writerow(SUMMARY_COLUMNS)
    for row in rows:
        writer.writerow([_text(row.get(c)) for c in SUMMARY_COLUMNS])
    return buffer.getvalue()
