"""What a workspace holds, and whether each artefact is current (`lwa status`).

Walks the layout (only this package knows it) and applies the provenance rule of
provenance.py to every artefact: a sample is stale when its alignments changed, a feature file
when its sample did, a result when any of its inputs did.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import h5py

from lwa_cli.workspace.cleaning import removed_features
from lwa_cli.workspace.core import Workspace, json_attr
from lwa_cli.workspace.locks import is_locked, writer_pid
from lwa_cli.workspace.provenance import FreshnessChecker
from lwa_cli.workspace.results import load_results

REMOVED_STATE = "features removed (results kept)"
"""`lwa status`'s state of a feature file removed by `lwa clean features`."""


def _read(path: Path) -> h5py.File:
    """Open for reading without HDF5's file locking: the inventory must also read a file that
    a running extraction holds open (it only reads what the writer has flushed)."""
    return h5py.File(path, "r", locking=False)


def _attrs(path: Path) -> dict[str, Any]:
    with _read(path) as f:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}


def _alignments(ws: Workspace) -> list[dict[str, Any]]:
    out = []
    for path in sorted((ws.root / "alignments").glob("*.h5")):
        with _read(path) as f:
            out.append({"split": path.stem, "utterances": int(f["utterances/id"].shape[0]),
                        "phone_segments": int(f["phones/label"].shape[0]),
                        "word_segments": int(f["words/label"].shape[0]),
                        "skipped_bad": len(json_attr(f, "skipped_bad", [])),
                        "missing_audio": len(json_attr(f, "missing_audio", []))})
    return out


def _samples(ws: Workspace, checker: FreshnessChecker) -> list[dict[str, Any]]:
    out = []
    for path in sorted((ws.root / "samples").glob("*/*.h5")):
        attrs = _attrs(path)
        split, kind, name = attrs["split"], attrs["sample_kind"], attrs["name"]
        state = "current"
        for source, fp in json.loads(attrs.get("alignments", "{}")).items():
            current, reason = checker.artefact("alignments", ws.rel(ws.alignments_path(source)))
            if reason or current != fp:
                state = f"stale (alignments of {source} changed)"
        with _read(path) as f:
            n_utts = int(f["utterances/id"].shape[0])
            n_tokens = int(f["tokens/label"].shape[0]) if "tokens" in f else None
        out.append({"split": split, "kind": kind, "sample": name, "seed": int(attrs["seed"]),
                    "utterances": n_utts, "tokens": n_tokens, "state": state,
                    "in_use": is_locked(path)})
    return out


def _features(ws: Workspace, checker: FreshnessChecker) -> list[dict[str, Any]]:
    out = []
    root = ws.root / "features"
    for path in sorted(root.glob("*/*/sample-*/*.h5*")):
        if path.name.startswith("."):  # lock and temporary files
            continue
        partial = path.name.endswith(".partial")
        target = path.with_name(path.name.removesuffix(".partial"))
        pid = writer_pid(target) if partial else None
        row: dict[str, Any] = {"model": path.parts[-4], "split": path.parts[-3],
                               "sample": path.parts[-2].removeprefix("sample-"),
                               "file": path.name, "size_mib": round(path.stat().st_size / 2**20, 2),
                               "in_use": pid is not None or is_locked(target)}
        writer = f", in use by pid {pid}" if pid is not None else ""
        try:
            with _read(path) as f:
                meta = json_attr(f, "meta", {})
                datasets = json_attr(f, "datasets", []) or []
                n_units = int(f["units/index"].shape[0]) if "units/index" in f else 0
                rows = 0
                if partial and datasets and "units/rows" in f:
                    # A partial file's extents run ahead of its rows: count finished units'.
                    rows = int(f["units/rows"][:, 0].sum())
                elif datasets:
                    rows = int(f[datasets[0]].shape[0])
        except (OSError, KeyError, ValueError) as exc:  # mid-write metadata, a broken file
            state = (f"partial (in use by pid {pid}; progress not readable while it writes)"
                     if pid is not None else f"unreadable ({exc})")
            out.append({**row, "state": state, "layers": [], "rows": 0})
            continue
        row.update(layers=list(meta.get("layers", [])), rows=rows,
                   checkpoint=meta.get("checkpoint"))
        if partial:
            row["state"] = (f"partial ({n_units} of {len(meta.get('units', []))} "
                            f"utterances{writer})")
        else:
            _, reason = checker.artefact("features", ws.rel(path))
            row["state"] = f"stale ({reason})" if reason else "complete"
        out.append(row)
    return out + _removed_features(ws, checker)


def _removed_features(ws: Workspace, checker: FreshnessChecker) -> list[dict[str, Any]]:
    """Feature files removed by `lwa clean features` (and not extracted again since)."""
    out = []
    for rel, entry in sorted(removed_features(ws).items()):
        if (ws.root / rel).is_file():
            continue
        _, reason = checker.artefact("features", rel)
        state = REMOVED_STATE + (f"; stale ({reason})" if reason else "")
        out.append({"model": entry.get("model"), "split": entry.get("split"),
                    "sample": str(entry.get("sample")), "file": Path(rel).name, "state": state,
                    "layers": list(entry.get("layers") or []), "rows": None,
                    "size_mib": entry.get("size_mib"), "in_use": False,
                    "removed_at": entry.get("removed_at")})
    return out


def _variant_tag(record: dict[str, Any]) -> str:
    """The variant of a result: its file's tag (``T3.<tag>.json``), ``default`` without."""
    _, _, tag = Path(record.get("file", "")).stem.partition(".")
    return tag or "default"


def _results(ws: Workspace, checker: FreshnessChecker) -> list[dict[str, Any]]:
    """Result groups per (analysis, model, split, sample): counts of fresh and stale result
    files, and the distinct layers and variants (file tags: AWD distances, MI iterations,
    ...) of each; a layer scored in two variants is one layer."""
    from lwa_cli.models.layers import layer_sort_key, split_layer

    def order(name: str) -> tuple:  # layers in model order, anything else after
        return (0, layer_sort_key(name), "") if split_layer(name) else (1, (0, 0), str(name))

    groups: dict[tuple, dict[str, Any]] = defaultdict(
        lambda: {"fresh": 0, "stale": 0, "layers": set(), "variants": set(),
                 "stale_layers": set(), "why": None})
    for record in load_results(ws):
        key = (record["analysis"], record["model"], record["split"], str(record["sample"]))
        group = groups[key]
        reason = checker.stale_reason(record)
        if reason is None:
            group["fresh"] += 1
            group["layers"].add(record["layer"])
            group["variants"].add(_variant_tag(record))
        else:
            group["stale"] += 1
            group["stale_layers"].add(record["layer"])
            group["why"] = group["why"] or reason
    for group in groups.values():
        for name in ("layers", "stale_layers"):
            group[name] = sorted(group[name], key=order)
        group["variants"] = sorted(group["variants"])
    return [{"analysis": a, "model": m, "split": s, "sample": k, **g}
            for (a, m, s, k), g in sorted(groups.items())]


def describe_workspace(ws: Workspace) -> dict[str, list[dict[str, Any]]]:
    """Alignments, samples, feature files and results of a workspace, each with its state."""
    ws.check()
    checker = FreshnessChecker(ws)
    return {"alignments": _alignments(ws), "samples": _samples(ws, checker),
            "features": _features(ws, checker), "results": _results(ws, checker)}


def model_fingerprints(ws: Workspace) -> dict[str, set[str]]:
    """Per model, the weights' fingerprints of its feature files (removed ones included).

    Two workspaces may be reported together only where a model's fingerprints agree.
    """
    out: dict[str, set[str]] = defaultdict(set)
    for path in sorted((ws.root / "features").glob("*/*/sample-*/*.h5")):
        try:
            with _read(path) as f:
                meta = json_attr(f, "meta", {})
        except (OSError, KeyError, ValueError):
            continue
        if meta.get("model") and meta.get("fingerprint"):
            out[meta["model"]].add(str(meta["fingerprint"]))
    for rel, entry in removed_features(ws).items():
        if (ws.root / rel).is_file():  # extracted again since: the file itself counts
            continue
        if entry.get("model") and entry.get("fingerprint"):
            out[entry["model"]].add(str(entry["fingerprint"]))
    return dict(out)
