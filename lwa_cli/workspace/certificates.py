"""Batching certificates stored in the workspace.

``certificates/<fingerprint>-<device>.json`` records, for one set of weights (the model
fingerprint) on one device type, whether batched extraction equals one-at-a-time
extraction, with the max |Δ| per layer measured and the tolerance used. A certificate is
looked up by the weights' fingerprint, so other weights (a changed checkpoint) are
certified afresh; one made with another tolerance, another lwa version or another
torch version is not reused either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lwa_cli import __version__
from lwa_cli.workspace.core import Workspace, check_name, write_json_atomic


def certificate_path(ws: Workspace, fingerprint: str, device: str) -> Path:
    """Where the certificate of these weights on this device type is kept."""
    name = f"{check_name(fingerprint, 'fingerprint')}-{check_name(device, 'device')}.json"
    return ws.root / "certificates" / name


def _stamp() -> dict[str, str]:
    from importlib.metadata import version

    return {"lwa_version": __version__, "torch_version": version("torch")}


def load_certificate(ws: Workspace, fingerprint: str, device: str,
                     tolerance: float) -> dict[str, Any] | None:
    """The stored certificate of these weights (the fields of `models.batching.Certificate`),
    or None when none applies (none yet, unreadable, another tolerance, lwa or torch
    version, other weights)."""
    path = certificate_path(ws, fingerprint, device)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    stamp = data.pop("stamp", None)
    if stamp != _stamp() or data.get("tolerance") != tolerance:
        return None
    return data if data.get("fingerprint") == fingerprint else None


def save_certificate(ws: Workspace, cert: dict[str, Any]) -> Path:
    """Store a certificate's fields (atomically, with the lwa and torch versions)."""
    path = certificate_path(ws, cert["fingerprint"], cert["device"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {**cert, "stamp": _stamp()})
    return path
