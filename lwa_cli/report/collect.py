"""Stored results of a workspace → tidy and aggregated rows: the one path `lwa report`,
`lwa results` and `lwa_cli.results.load` share.

Stale results (their inputs changed after they were computed; see
`lwa_cli.workspace.provenance.FreshnessChecker`) are left out everywhere and counted; the
architecture behind the depth axis comes from each model's feature file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lwa_cli.errors import LwaError, LwaUsageError
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import FeatureFile
from lwa_cli.workspace.provenance import FreshnessChecker
from lwa_cli.workspace.results import load_results

from .table import aggregate, tidy_rows

PRODUCERS = (
    "`lwa cca`, `lwa mi`, `lwa wordsim`, `lwa segment tune`, `lwa awd`, `lwa sts` or `lwa probe`")
"""The commands that store results, for error messages."""


@dataclass
class Collected:
    """What a workspace's stored results give, after the stale ones are left out.

    Attributes
    ----------
    records : the current stored records that passed the filters.
    stale : (record, why) of each stale result left out (before filtering).
    rows : tidy rows (`lwa_cli.report.table.tidy_rows`), one per usable record.
    aggregated : mean ± std rows (`lwa_cli.report.table.aggregate`).
    specs : per model, the architecture (``meta["spec"]``) read from its feature file.
    """

    records: list[dict[str, Any]]
    stale: list[tuple[dict[str, Any], str]]
    rows: list[dict[str, Any]]
    aggregated: list[dict[str, Any]] = field(default_factory=list)
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def n_stale(self) -> int:
        return len(self.stale)


def split_stale(ws: Workspace, records: list[dict[str, Any]]
                ) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    """(current records, [(stale record, why)]) by the workspace's provenance rule."""
    checker = FreshnessChecker(ws)
    fresh, stale = [], []
    for record in records:
        reason = checker.stale_reason(record)
        if reason is None:
            fresh.append(record)
        else:
            stale.append((record, reason))
    return fresh, stale


def select(records: list[dict[str, Any]], key: str, wanted: Sequence[str] | None,
           option: str) -> list[dict[str, Any]]:
    """Keep records whose `key` is in `wanted`; a wanted value with no result is an error."""
    if not wanted:
        return records
    present = sorted({str(r.get(key)) for r in records})
    unknown = [w for w in wanted if w not in present]
    if unknown:
        raise LwaUsageError(
            f"{option} {', '.join(unknown)}: no stored results; stored: {', '.join(present)}"
        )
    return [r for r in records if str(r.get(key)) in set(wanted)]


def feature_specs(ws: Workspace, records: Sequence[dict[str, Any]]) -> dict[str, dict]:
    """Per model, ``meta["spec"]`` of the first readable feature file its results came from.

    Only a file whose ``meta["model"]`` is the record's model counts (a cca-inter result also
    names the other model's features). Unreadable files are passed over: the registry or the
    stored layers then give the geometry.
    """
    specs: dict[str, dict] = {}
    tried: set[str] = set()
    for record in records:
        model = str(record.get("model"))
        if model in specs:
            continue
        for ref in (record.get("inputs") or {}).values():
            path = ref.get("path") if isinstance(ref, dict) else None
            if not path or ref.get("kind") != "features" or path in tried:
                continue
            tried.add(path)
            try:
                with FeatureFile(ws.root / Path(path)) as features:
                    meta = features.meta
            except (LwaError, OSError, ValueError, KeyError):
                continue
            if meta.get("model") == model and isinstance(meta.get("spec"), dict):
                specs[model] = meta["spec"]
                break
    return specs


def collect(ws: Workspace, *, models: Sequence[str] | None = None,
            analyses: Sequence[str] | None = None, splits: Sequence[str] | None = None,
            on_skip: Callable[[str], None] | None = None,
            require: bool = True) -> Collected:
    """The workspace's current results, filtered, as records, tidy and aggregated rows.

    Parameters
    ----------
    models, analyses, splits : keep only these (None or empty: all).
    on_skip : receives a line per record that cannot be used (see `tidy_rows`).
    require : raise when nothing is left instead of returning empty rows.

    Raises
    ------
    LwaError : no workspace; with `require`, no (current, usable) results.
    LwaUsageError : a requested model, analysis or split has no stored results.
    """
    ws.check()
    records = load_results(ws)
    if not records and require:
        raise LwaError(f"no results in workspace {ws.root}; run {PRODUCERS} first")
    records, stale = split_stale(ws, records)
    if not records and require:
        raise LwaError(f"every result in workspace {ws.root} is stale; rerun {PRODUCERS}")
    records = select(records, "model", models, "--model")
    records = select(records, "analysis", analyses, "--analysis")
    records = select(records, "split", splits, "--split")
    specs = feature_specs(ws, records)
    rows = tidy_rows(records, on_skip=on_skip, specs=specs)
    if not rows and require:
        raise LwaError(f"no usable results in workspace {ws.root}; rerun {PRODUCERS}")
    return Collected(records=records, stale=stale, rows=rows, aggregated=aggregate(rows),
                     specs=specs)


def stale_warning(ws: Workspace, stale: list[tuple[dict[str, Any], str]], what: str) -> str:
    """The one-line warning about stale results left out of `what`."""
    record, why = stale[0]
    where = ws.rel(Path(record["file"])) if record.get("file") else record.get("analysis")
    return (f"{len(stale)} stale result(s) left out of {what} (their inputs changed after "
            f"they were computed; rerun those analyses), e.g. {where}: {why}")
