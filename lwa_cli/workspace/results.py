"""Storage of scores: one small JSON file per (analysis, model, split, sample, layer[, tag]).

One file per result means concurrent commands (``make -j`` over layers) never write the same
file, and each write is atomic. A record carries its provenance (``inputs``, ``options``,
``provenance``; see provenance.py), so a stored result is reused only while it is current.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lwa_cli.workspace.core import FORMAT_VERSION, Workspace, write_json_atomic


def result_path(ws: Workspace, record: dict[str, Any], tag: str | None = None) -> Path:
    return ws.result_path(record["analysis"], record["model"], record["split"],
                          record["sample"], record["layer"], tag)


def save_result(ws: Workspace, record: dict[str, Any], *, tag: str | None = None) -> str:
    """Store one result; `record` must name analysis, model, split, sample and layer."""
    path = result_path(ws, record, tag)
    write_json_atomic(path, {"lwa_format_version": FORMAT_VERSION, **record})
    return str(path)


def load_result(ws: Workspace, analysis: str, model: str, split: str, sample: str, layer: str,
                tag: str | None = None) -> dict[str, Any] | None:
    """The stored record of one result, or None (absent, unreadable or of another format)."""
    return _read(ws.result_path(analysis, model, split, sample, layer, tag))


def _read(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("lwa_format_version") != FORMAT_VERSION:
        return None
    record["file"] = str(path)
    return record


def result_exists(ws: Workspace, analysis: str, model: str, split: str, sample: str, layer: str,
                  tag: str | None = None) -> bool:
    return ws.result_path(analysis, model, split, sample, layer, tag).is_file()


def load_results(ws: Workspace) -> list[dict[str, Any]]:
    """Every stored result (files that are unreadable or of another format are skipped)."""
    root = ws.results_dir()
    if not root.is_dir():
        return []
    return [r for path in sorted(root.rglob("*.json")) if (r := _read(path)) is not None]


def remove_dependent_results(ws: Workspace, removed: Iterable[str]) -> list[str]:
    """Delete the results computed from any of the `removed` workspace paths; list them."""
    gone = set(removed)
    out = []
    for record in load_results(ws):
        paths = {ref.get("path") for ref in (record.get("inputs") or {}).values()}
        if paths & gone:
            path = Path(record["file"])
            path.unlink(missing_ok=True)
            out.append(ws.rel(path))
    return out
