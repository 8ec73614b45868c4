"""Stored results of a workspace → tidy and aggregated rows: the one path `lwa report`,
`lwa results` and `lwa_cli.results.load` share.

Stale results (their inputs changed after they were computed; see
`lwa_cli.workspace.provenance.FreshnessChecker`) are left out everywhere and counted; the
architecture behind the depth axis comes from each model's feature file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lwa_cli.analyses import ANALYSES, producers
from lwa_cli.errors import LwaError, LwaUsageError, did_you_mean
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.cleaning import removed_features
from lwa_cli.workspace.features import FeatureFile
from lwa_cli.workspace.provenance import FreshnessChecker
from lwa_cli.workspace.results import load_results

from .table import aggregate, tidy_rows

PRODUCERS = producers()
"""The commands that store results, for error messages (from the analysis registry)."""


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
           option: str, known: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Keep records whose `key` is in `wanted`; a wanted value with no result is an error.

    `known` lists the values that exist at all (the registry's analyses): the error suggests
    the nearest one for a value that is neither stored nor known.
    """
    if not wanted:
        return records
    present = sorted({str(r.get(key)) for r in records})
    unknown = [w for w in wanted if w not in present]
    if unknown:
        hint = "".join(did_you_mean(w, known) for w in unknown
                       if known and w not in known)
        raise LwaUsageError(f"{option} {', '.join(unknown)}: no stored results; stored: "
                            f"{', '.join(present)}{hint}")
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
                meta = removed_features(ws).get(path)  # removed by `lwa clean features`
                if meta is None:
                    continue
            if meta.get("model") == model and isinstance(meta.get("spec"), dict):
                specs[model] = meta["spec"]
                break
    return specs


def _one(ws: Workspace, require: bool) -> tuple[list[dict[str, Any]], list[tuple[dict, str]]]:
    ws.check()
    records = load_results(ws)
    if not records and require:
        raise LwaError(f"no results in workspace {ws.root}; run {PRODUCERS} first")
    records, stale = split_stale(ws, records)
    if not records and require:
        raise LwaError(f"every result in workspace {ws.root} is stale; rerun {PRODUCERS}")
    return records, stale


def check_models_agree(workspaces: Sequence[Workspace]) -> None:
    """Raise unless every model found in several workspaces has the same weights in each.

    The weights' fingerprints come from the feature files (removed ones included).
    """
    from lwa_cli.workspace.inventory import model_fingerprints

    seen: dict[str, tuple[Workspace, set[str]]] = {}
    for ws in workspaces:
        for model, prints in model_fingerprints(ws).items():
            if model in seen and seen[model][1] != prints:
                other, theirs = seen[model]
                raise LwaError(
                    f"model {model} has other weights in workspace {ws.root} (fingerprint "
                    f"{', '.join(sorted(prints))}) than in {other.root} "
                    f"({', '.join(sorted(theirs))}); rename it in one workspace (extract under "
                    "another --model) to report both")
            seen.setdefault(model, (ws, prints))


def _dedupe(pairs: list[tuple[Workspace, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One record per result: the same result file in two workspaces (same model, weights,
    analysis, split, sample, layer and variant) counts once, from the first workspace."""
    out, keys = [], set()
    for ws, record in pairs:
        key = (Path(record["file"]).relative_to(ws.results_dir()).as_posix()
               if record.get("file") else id(record), record.get("provenance"))
        if key not in keys:
            keys.add(key)
            out.append(record)
    return out


def collect(ws: Workspace | Sequence[Workspace], *, models: Sequence[str] | None = None,
            analyses: Sequence[str] | None = None, splits: Sequence[str] | None = None,
            on_skip: Callable[[str], None] | None = None,
            require: bool = True) -> Collected:
    """The workspace's current results, filtered, as records, tidy and aggregated rows.

    Parameters
    ----------
    ws : one workspace, or several whose results are gathered into one set (a model found in
        several must have the same weights in each; see `check_models_agree`).
    models, analyses, splits : keep only these (None or empty: all).
    on_skip : receives a line per record that cannot be used (see `tidy_rows`).
    require : raise when nothing is left instead of returning empty rows.

    Raises
    ------
    LwaError : no workspace; with `require`, no (current, usable) results.
    LwaUsageError : a requested model, analysis or split has no stored results.
    """
    if isinstance(ws, Workspace):
        records, stale = _one(ws, require)
        origin = [(ws, r) for r in records]
    else:
        spaces = list(ws)
        if not spaces:
            raise LwaUsageError("no workspace given")
        for one in spaces:
            one.check()
        check_models_agree(spaces)
        origin, stale = [], []
        for one in spaces:
            got, old = _one(one, require=False)
            origin += [(one, r) for r in got]
            stale += old
        if not origin and require:
            where = ", ".join(str(one.root) for one in spaces)
            raise LwaError(f"no current results in workspaces {where}; run {PRODUCERS} first")
        records = _dedupe(origin)
    records = select(records, "model", models, "--model")
    records = select(records, "analysis", analyses, "--analysis", known=tuple(ANALYSES))
    records = select(records, "split", splits, "--split")
    kept = {id(r) for r in records}
    specs: dict[str, dict[str, Any]] = {}
    for one in dict.fromkeys(w for w, _ in origin):
        found = feature_specs(one, [r for w, r in origin if w is one and id(r) in kept])
        specs.update({m: s for m, s in found.items() if m not in specs})
    rows = tidy_rows(records, on_skip=on_skip, specs=specs)
    if not rows and require:
        raise LwaError(f"no usable results in workspace {ws.root}; rerun {PRODUCERS}")
    return Collected(records=records, stale=stale, rows=rows, aggregated=aggregate(rows),
                     specs=specs)


def stale_warning(ws: Workspace | Sequence[Workspace],
                  stale: list[tuple[dict[str, Any], str]], what: str) -> str:
    """The one-line warning about stale results left out of `what`."""
    record, why = stale[0]
    where = record.get("file") or record.get("analysis")
    if isinstance(ws, Workspace) and record.get("file"):
        with contextlib.suppress(ValueError):
            where = ws.rel(Path(record["file"]))
    return (f"{len(stale)} stale result(s) left out of {what} (their inputs changed after "
            f"they were computed; rerun those analyses), e.g. {where}: {why}")
