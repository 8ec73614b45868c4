"""Deliberate removal of feature files: results outlive the features they were computed from.

`clean_features` deletes complete feature files and records, for each one, what it was in
``features/removed.json`` (its fingerprint, the weights' fingerprint, the architecture, the
sample it was extracted from, its layers and size). The provenance rule
(`provenance.FreshnessChecker`) then treats a *removed* file as its recorded fingerprint: the
results computed from it stay current as long as that record stands and the sample it came
from is unchanged. A file that is there is always read: a *changed* (re-extracted from other
weights, another sample...) file still makes its results stale, whatever the record says.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lwa_cli.errors import LwaError
from lwa_cli.workspace.core import Workspace, json_attr, open_h5, write_json_atomic
from lwa_cli.workspace.locks import write_lock
from lwa_cli.workspace.provenance import features_fingerprint

REMOVED = "removed.json"
"""Name of the record of removed feature files, under ``features/``."""

# Feature-file meta fields kept in the record: what provenance and the report need later.
_KEPT = ("model", "split", "sample", "span", "rep", "dtype", "sample_kind", "sample_fingerprint",
         "fingerprint", "spec", "layers", "checkpoint")


def removed_path(ws: Workspace) -> Path:
    return ws.root / "features" / REMOVED


def removed_features(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Workspace path → record of each feature file removed by `clean_features` (empty when
    none; an unreadable record counts as none, so results fall back to "features gone")."""
    try:
        data = json.loads(removed_path(ws).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


Filter = str | Sequence[str] | None


def _wanted(value: Filter) -> set[str] | None:
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def _matches(meta: Mapping[str, Any], path: Path, **filters: set[str] | None) -> bool:
    stem = path.name.split(".", 1)[0]  # frame, frame-local, phone (parts: frame.part-0)
    have = {"model": {meta.get("model")}, "span": {stem, meta.get("span")},
            "split": {meta.get("split")}, "sample": {str(meta.get("sample"))}}
    return all(wanted is None or have[key] & wanted for key, wanted in filters.items())


def clean_features(ws: Workspace, *, model: Filter = None, span: Filter = None,
                   split: Filter = None, sample: Filter = None,
                   dry_run: bool = False) -> list[dict[str, Any]]:
    """Remove the complete feature files matching the filters; keep their results current.

    Parameters
    ----------
    model, split, sample : only files of these models / splits / samples (None: all).
    span : only these spans (``frame``, ``phone``...) or file stems (``frame-local``).
    dry_run : say what would be removed, remove nothing.

    Returns one record per file (workspace ``path``, ``size_mib`` and the kept meta fields).
    Partial files (an extraction under way or interrupted) are left alone.

    Raises
    ------
    LwaError : no workspace, or nothing matches (the message lists what is there).
    ArtefactBusyError : another lwa process holds a matching file.
    """
    ws.check()
    found, present = [], set()
    for path in sorted((ws.root / "features").glob("*/*/sample-*/*.h5")):
        try:
            with open_h5(path, "features") as f:
                meta = json_attr(f, "meta", {})
        except (LwaError, OSError, ValueError):
            continue
        present.add(f"{meta.get('model')} {meta.get('split')} {path.name}")
        if _matches(meta, path, model=_wanted(model), span=_wanted(span),
                    split=_wanted(split), sample=_wanted(sample)):
            found.append((path, meta))
    if not found:
        have = "; ".join(sorted(present)) or "none"
        raise LwaError(f"no feature files match in workspace {ws.root} (feature files: {have})")
    removed = []
    for path, meta in found:
        entry = {key: meta.get(key) for key in _KEPT}
        entry.update(path=ws.rel(path), features_fingerprint=features_fingerprint(meta),
                     size_mib=round(path.stat().st_size / 2**20, 2),
                     removed_at=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
        removed.append(entry)
    if dry_run:
        return removed
    with write_lock(removed_path(ws), wait=ws.wait, what="record of removed features"):
        record = removed_features(ws)
        for (path, _), entry in zip(found, removed, strict=True):
            with write_lock(path, wait=ws.wait, what="feature file"):
                # Recorded before the file goes: a crash between the two leaves a record of
                # a file that is still there, and a present file is always read first.
                record[entry["path"]] = entry
                write_json_atomic(removed_path(ws), record)
                os.unlink(path)
    return removed
