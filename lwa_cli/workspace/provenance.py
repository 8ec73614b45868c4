"""Provenance: fingerprints of artefacts and the rule that decides whether one is still current.

Every artefact records the fingerprints of what it was made from:

- alignments: a content fingerprint (utterances, durations, segments);
- a sample: its content fingerprint and the fingerprints of the alignments it was drawn from;
- a feature file: the weights' fingerprint, the architecture, the sample's fingerprint and
  the options that change its numbers (span, rep, dtype); `features_fingerprint` condenses
  them (layers are not part of it: a layer's rows do not depend on which others were stored);
- an embedding map: a content fingerprint and the source file's fingerprint;
- a result: ``inputs`` (role → workspace path + fingerprint of each input artefact),
  ``options`` (every option that changes the number) and ``provenance``, the digest of both.

The rule: a stored artefact is reused only when the fingerprints it recorded equal those of
its inputs now; otherwise it is *stale* and the command that makes it recomputes it and says
why. `stale_reason` answers that question for a stored result by re-reading its inputs, and
recursively the inputs' own inputs (result → features → sample → alignments).

Removed features (`lwa clean features`, see cleaning.py): a feature file deleted on purpose
is judged by the fingerprint recorded when it was removed, and its sample by the same rule as
a present file's, so results outlive their features. A file that is present is always read:
one changed since (re-extracted) makes its results stale as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

if TYPE_CHECKING:
    from lwa_cli.workspace.core import Workspace

# Feature-file meta fields whose change changes the stored numbers.
_FEATURE_IDENTITY = ("fingerprint", "spec", "normalize_input", "sample_fingerprint", "span",
                     "rep", "dtype")


def digest(data: Any) -> str:
    """A short, stable fingerprint of JSON-like data (key order does not matter)."""
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def array_digest(*arrays: np.ndarray) -> str:
    """A fingerprint of array contents (dtype, shape and bytes of each)."""
    h = hashlib.sha256()
    for arr in arrays:
        arr = np.asarray(arr)
        if arr.dtype.kind in "USO":  # strings: by value, whatever their numpy width
            h.update(f"str{arr.shape}".encode())
            h.update("\0".join(map(str, arr.ravel().tolist())).encode())
            continue
        arr = np.ascontiguousarray(arr)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()[:16]


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    """A fingerprint of a file's bytes (streamed)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()[:16]


def features_fingerprint(meta: Mapping[str, Any]) -> str:
    """What a feature file's numbers depend on (weights, architecture, sample, span, dtype)."""
    return digest({key: meta.get(key) for key in _FEATURE_IDENTITY})


def result_provenance(analysis: str, layer: str, inputs: Mapping[str, Mapping[str, Any]],
                      options: Mapping[str, Any]) -> str:
    """The digest a stored result is reused by: its inputs' fingerprints and its options."""
    return digest({"analysis": analysis, "layer": layer, "options": dict(options),
                   "inputs": {role: ref.get("fingerprint") for role, ref in inputs.items()}})


def explain_change(stored: Mapping[str, Any], inputs: Mapping[str, Mapping[str, Any]],
                   options: Mapping[str, Any]) -> str:
    """Why a stored result does not match a request, in a few words."""
    old_inputs = stored.get("inputs") or {}
    old_options = stored.get("options") or {}
    changed = [role for role, ref in inputs.items()
               if (old_inputs.get(role) or {}).get("fingerprint") != ref.get("fingerprint")]
    changed += [role for role in old_inputs if role not in inputs]
    reasons = [f"{', '.join(changed)} changed"] if changed else []
    opts = sorted(k for k in set(options) | set(old_options)
                  if old_options.get(k) != options.get(k))
    if opts:
        reasons.append("options changed: " + ", ".join(
            f"{k} {old_options.get(k)!r} → {options.get(k)!r}" for k in opts))
    if not reasons and "provenance" not in stored:
        reasons.append("stored without provenance")
    return "; ".join(reasons) or "provenance changed"


def _attr(path: Path, key: str) -> Any:
    with h5py.File(path, "r") as f:
        value = f.attrs.get(key)
    return value.decode() if isinstance(value, bytes) else value


class FreshnessChecker:
    """Re-reads the fingerprints of workspace artefacts to tell whether records are current.

    One checker caches what it has read, so checking hundreds of results opens each feature
    file once. Paths in records are relative to the workspace root.
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.root = ws.root
        self._cache: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        self._removed: dict[str, dict[str, Any]] | None = None

    def removed(self, rel: str) -> dict[str, Any] | None:
        """The record of a feature file removed by `lwa clean features`, or None."""
        if self._removed is None:
            from lwa_cli.workspace.cleaning import removed_features

            self._removed = removed_features(self.ws)
        return self._removed.get(rel)

    # (current fingerprint, reason it is stale or missing) of one artefact
    def artefact(self, kind: str, rel: str) -> tuple[str | None, str | None]:
        key = (kind, rel)
        if key not in self._cache:
            self._cache[key] = self._read(kind, self.root / rel)
        return self._cache[key]

    def _read(self, kind: str, path: Path) -> tuple[str | None, str | None]:
        if not path.is_file():
            entry = self.removed(self.ws.rel(path)) if kind == "features" else None
            if entry is not None:  # removed on purpose: as it was when removed
                return entry.get("features_fingerprint"), self._sample_reason(entry)
            return None, f"{path.relative_to(self.root)} is gone"
        try:
            if kind == "features":
                meta = json.loads(_attr(path, "meta"))
                return features_fingerprint(meta), self._sample_reason(meta)
            if kind in ("embeddings", "sample", "alignments", "sts"):
                return _attr(path, "fingerprint"), None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            return None, f"{path.relative_to(self.root)} is unreadable ({exc})"
        return None, None

    def _sample_reason(self, meta: Mapping[str, Any]) -> str | None:
        kind = meta.get("sample_kind", meta["span"])
        rel = self.ws.rel(self.ws.sample_path(meta["split"], kind, meta["sample"]))
        current, reason = self.artefact("sample", rel)
        if reason:
            return f"its sample: {reason}"
        if current != meta.get("sample_fingerprint"):
            return f"features were extracted from an older {meta['span']} sample {meta['sample']!r}"
        return None

    def stale_reason(self, record: Mapping[str, Any]) -> str | None:
        """None when every input of a stored result is as it was; else why not."""
        inputs = record.get("inputs")
        if not isinstance(inputs, Mapping) or "provenance" not in record:
            return "stored without provenance (made by an older lwa)"
        for role, ref in inputs.items():
            kind, rel = ref.get("kind"), ref.get("path")
            if not kind or not rel:
                continue  # derived inputs (e.g. labels of the features) have no file
            current, reason = self.artefact(kind, rel)
            if reason:
                return f"{role}: {reason}"
            if current != ref.get("fingerprint"):
                return f"{role} changed since it was computed"
        return None
