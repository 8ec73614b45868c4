"""Storage of scores: one small JSON file per (analysis, model, split, sample, layer[, tag]).

One file per result means concurrent commands (``make -j`` over layers) never write the same
file, and each write is atomic.
"""

from __future__ import annotations

import json
from typing import Any

from lwa_cli.workspace.core import FORMAT_VERSION, Workspace, write_json_atomic


def save_result(ws: Workspace, record: dict[str, Any], *, tag: str | None = None) -> str:
    """Store one result; `record` must name analysis, model, split, sample and layer."""
    path = ws.result_path(record["analysis"], record["model"], record["split"],
                          record["sample"], record["layer"], tag)
    write_json_atomic(path, {"lwa_format_version": FORMAT_VERSION, **record})
    return str(path)


def result_exists(ws: Workspace, analysis: str, model: str, split: str, sample: str, layer: str,
                  tag: str | None = None) -> bool:
    return ws.result_path(analysis, model, split, sample, layer, tag).is_file()


def load_results(ws: Workspace) -> list[dict[str, Any]]:
    """Every stored result (files that are unreadable or of another format are skipped)."""
    out = []
    root = ws.results_dir()
    if not root.is_dir():
        return out
    for path in sorted(root.rglob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if record.get("lwa_format_version") == FORMAT_VERSION:
            out.append(record)
    return out
