"""The per-layer result loop every analysis shares: reuse what is current, recompute the rest.

An analysis describes one run by a `ResultSpec` (what is scored, from which inputs, with which
options) and a function that scores one layer. `score_layers` then, for each layer:

- reuses the stored result when its provenance equals the request's (``cached: true``),
- recomputes it when it is stale, saying why ("T3: stale (features changed) → recomputed"),
- computes it when absent (or always, with ``force``),

and stores each new result under a write lock, so two processes never write one result.
Every requested layer is returned, cached or not, so ``--json`` describes them all.

A step describes its run by one frozen options dataclass: `ResultSpec.build` turns it into the
result's ``options`` (its provenance: every field but those `UNSET` for the run), the record
fields (the fields declared with `record_field`) and the file tag (derived from the options by
the analysis registry, `lwa_cli.analyses.result_tag`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from enum import Enum
from typing import Any

from lwa_cli import __version__
from lwa_cli.analyses import result_tag
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import FeatureFile
from lwa_cli.workspace.locks import write_lock
from lwa_cli.workspace.provenance import explain_change, result_provenance
from lwa_cli.workspace.results import load_result, save_result


def features_input(ws: Workspace, features: FeatureFile) -> dict[str, str]:
    """The provenance entry of a feature file that a result is computed from."""
    return {"kind": "features", "path": ws.rel(features.path),
            "fingerprint": features.fingerprint}


def artefact_input(ws: Workspace, kind: str, path, fingerprint: str) -> dict[str, str]:
    """The provenance entry of another workspace artefact (embeddings, an STS set, ...)."""
    return {"kind": kind, "path": ws.rel(path), "fingerprint": fingerprint}


def derived_input(fingerprint: str, what: str) -> dict[str, str]:
    """An input that is not a workspace file (e.g. codes built from the sample's labels)."""
    return {"kind": "", "what": what, "fingerprint": fingerprint}


class Unset(Enum):
    UNSET = "unset"


UNSET = Unset.UNSET
"""The value of an option that does not apply to a run (e.g. ``svd_keep`` of a PWCCA run):
left out of the result's ``options``, so it changes neither provenance nor tag."""

_RECORD = "record"  # dataclass field metadata key: also stored as a record field


def record_field() -> Any:
    """A (required) options-dataclass field that is also stored at the top of each record."""
    return field(metadata={_RECORD: True})


def options_of(options: Any) -> dict[str, Any]:
    """The ``options`` (provenance) of an options dataclass: its fields, `UNSET` ones left out."""
    if not is_dataclass(options):
        raise TypeError(f"options must be a dataclass instance, got {type(options).__name__}")
    return {key: value for key, value in asdict(options).items() if value is not UNSET}


def record_fields_of(options: Any) -> dict[str, Any]:
    """The fields of an options dataclass declared with `record_field` (`UNSET` ones left out)."""
    stored = options_of(options)
    return {f.name: stored[f.name] for f in fields(options)
            if f.metadata.get(_RECORD) and f.name in stored}


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

    @classmethod
    def build(cls, analysis: str, model: str, split: str, sample: str,
              inputs: Mapping[str, Mapping[str, Any]], options: Any,
              extra: Mapping[str, Any] | None = None) -> ResultSpec:
        """The spec of a run described by an options dataclass (see the module doc).

        `extra` adds record fields that are not options (e.g. counts of dropped tokens).
        """
        opts = options_of(options)
        return cls(analysis, model, split, sample, inputs, opts,
                   tag=result_tag(analysis, opts),
                   fields={**record_fields_of(options), **(extra or {})})


def score_layers(ws: Workspace, spec: ResultSpec, layers: Sequence[str],
                 score: Callable[..., dict[str, Any]], *, force: bool = False,
                 reporter: Reporter = SILENT,
                 work: tuple[int, str] | None = None) -> list[dict[str, Any]]:
    """Records of every layer in `layers` (stored, or computed now by `score(layer)`).

    Progress advances per layer; with ``work=(n, unit)`` (e.g. ``(30, "candidate")``: the
    units of work of one layer) it advances per unit instead: `score` is then called as
    ``score(layer, progress)`` and calls ``progress()`` after each unit. A layer reused from
    the store, or one that ends with fewer calls, counts its `n` units when done.
    """
    per_layer, unit = work if work else (1, "layer")
    if per_layer < 1:
        raise ValueError(f"work must have at least one unit per layer, not {per_layer}")
    records = []
    with reporter.task(f"{spec.analysis} {spec.model}", len(layers) * per_layer,
                       unit) as advance:
        for layer in layers:
            done = [0]

            def progress(n: int = 1, done: list[int] = done) -> None:
                step = min(n, per_layer - done[0])  # never past the layer's share
                if step > 0:
                    done[0] += step
                    advance(step)

            scorer = score if work is None else (lambda name, p=progress: score(name, p))
            records.append(_one_layer(ws, spec, layer, scorer, force, reporter))
            progress(per_layer)
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
