"""The per-layer result loop every analysis shares: reuse what is current, recompute the rest.

An analysis describes one run by a `ResultSpec` (what is scored, from which inputs, with which
options) and a function that scores one layer. `score_layers` then, for each layer:

- reuses the stored result when its provenance equals the request's (``cached: true``),
- recomputes it when it is stale, saying why ("T3: stale (features changed) → recomputed"),
- computes it when absent (or always, with ``force``),

and stores each new result under a write lock, so two processes never write one result.
Every requested layer is returned, cached or not, so ``--json`` describes them all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lwa_cli import __version__
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import FeatureFile
from lwa_cli.workspace.locks import write_lock
from lwa_cli.workspace.provenance import explain_change, result_provenance
from lwa_cli.workspace.results import load_result, save_result


def features_input(ws: Workspace, features: FeatureFile) -> dict[str, Any]:
    """The provenance entry of a feature file that a result is computed from.

    ``geometry`` (the model's conv blocks and transformer layers, for the report's depth of
    models outside the registry) is descriptive: provenance compares fingerprints only.
    """
    spec = features.meta["spec"]
    return {"kind": "features", "path": ws.rel(features.path),
            "fingerprint": features.fingerprint,
            "geometry": {"model": features.meta["model"], "n_conv": len(spec["conv_layers"]),
                         "n_layers": int(spec["n_layers"])}}


def artefact_input(ws: Workspace, kind: str, path, fingerprint: str) -> dict[str, str]:
    """The provenance entry of another workspace artefact (embeddings, an STS set, ...)."""
    return {"kind": kind, "path": ws.rel(path), "fingerprint": fingerprint}


def derived_input(fingerprint: str, what: str) -> dict[str, str]:
    """An input that is not a workspace file (e.g. codes built from the sample's labels)."""
    return {"kind": "", "what": what, "fingerprint": fingerprint}


@dataclass(frozen=True)
class ResultSpec:
    """Identity and provenance of the results of one analysis run (all layers alike).

    `options` holds every option that changes the number; `inputs` maps a role
    ("features", "targets", ...) to its provenance entry; `tag` names a variant file.
    """

    analysis: str
    model: str
    split: str
    sample: str
    inputs: Mapping[str, Mapping[str, Any]]
    options: Mapping[str, Any]
    tag: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)  # stored with every record


def score_layers(ws: Workspace, spec: ResultSpec, layers: Sequence[str],
                 score: Callable[[str], dict[str, Any]], *, force: bool = False,
                 reporter: Reporter = SILENT) -> list[dict[str, Any]]:
    """Records of every layer in `layers` (stored, or computed now by `score(layer)`)."""
    records = []
    with reporter.task(f"{spec.analysis} {spec.model}", len(layers), "layer") as advance:
        for layer in layers:
            records.append(_one_layer(ws, spec, layer, score, force, reporter))
            advance(1)
    return records


def _one_layer(ws: Workspace, spec: ResultSpec, layer: str,
               score: Callable[[str], dict[str, Any]], force: bool,
               reporter: Reporter) -> dict[str, Any]:
    provenance = result_provenance(spec.analysis, layer, spec.inputs, spec.options)
    path = ws.result_path(spec.analysis, spec.model, spec.split, spec.sample, layer, spec.tag)
    with write_lock(path, wait=ws.wait, what="result"):
        stored = load_result(ws, spec.analysis, spec.model, spec.split, spec.sample, layer,
                             spec.tag)
        if stored is not None and not force:
            if stored.get("provenance") == provenance:
                return {**stored, "cached": True}
            reporter.info(f"{layer}: stale ({explain_change(stored, spec.inputs, spec.options)})"
                          " → recomputed")
        t0 = time.perf_counter()
        values = score(layer)
        record = {"analysis": spec.analysis, "model": spec.model, "split": spec.split,
                  "sample": spec.sample, "layer": layer, **spec.fields, **values,
                  "options": dict(spec.options), "inputs": {k: dict(v) for k, v in
                                                             spec.inputs.items()},
                  "provenance": provenance,
                  "wall_seconds": round(time.perf_counter() - t0, 3),
                  "lwa_version": __version__}
        record["file"] = save_result(ws, record, tag=spec.tag)
    return {**record, "cached": False}
