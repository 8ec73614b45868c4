"""The property view of ``lwa cca semantic|syntactic``: each token's word's attribute row.

X = the all-words features of a layer, Y = the row of the token's word in the stored
attribute map (``lwa embeddings semantic|syntactic``). Tokens whose word has no row are
dropped and counted (:func:`lwa_cli.analysis.linguistic.attribute_targets`); an optional
per-word cap keeps at most ``instance_cap`` seeded random tokens of each word
(:func:`lwa_cli.analysis.linguistic.cap_instances`), among the tokens that have a row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lwa_cli.analysis.linguistic import attribute_targets, cap_instances
from lwa_cli.errors import param_error
from lwa_cli.pipeline.oracle_maps import load_oracle_map
from lwa_cli.pipeline.results import artefact_input
from lwa_cli.progress import Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.embeddings import embeddings_fingerprint


@dataclass(frozen=True)
class AttributeView:
    """What `run_cca` needs of an attribute experiment.

    Attributes
    ----------
    keep : ndarray of bool, shape (n_tokens,)
        Tokens (feature rows) that enter the CCA.
    targets : ndarray of float64, shape (keep.sum(), n_tags)
        Attribute rows of the kept tokens, in row order.
    ref : dict
        Provenance entry of the attribute map (its content fingerprint).
    fields : dict
        Counts for the result record: ``tokens_dropped`` (no attribute vector),
        ``tokens_capped`` (removed by the cap), ``instance_cap``, ``attributes``.
    """

    keep: np.ndarray
    targets: np.ndarray
    ref: dict
    fields: dict


def attribute_view(ws: Workspace, name: str, labels: np.ndarray, *, instance_cap: int | None,
                   seed: int, reporter: Reporter) -> AttributeView:
    """Y rows and the kept-token mask of attribute map `name` for tokens with `labels`."""
    if instance_cap is not None and (isinstance(instance_cap, bool) or instance_cap < 1):
        raise param_error("instance_cap", instance_cap, "must be at least 1")
    oracle = load_oracle_map(ws, name)
    found = attribute_targets(labels, oracle)
    if found.dropped:
        examples = ", ".join(found.dropped_words[:5])
        reporter.warn(f"{found.dropped} of {len(labels)} tokens ({len(found.dropped_words)} "
                      f"words, e.g. {examples}) have no {name} attribute vector and were dropped")
    indices, rows = found.indices, found.rows
    capped = 0
    if instance_cap is not None:
        chosen = cap_instances(np.asarray(labels)[indices], int(instance_cap), seed)
        capped = len(indices) - len(chosen)
        indices, rows = indices[chosen], rows[chosen]
        reporter.info(f"--instance-cap {instance_cap}: kept {len(indices)} tokens "
                      f"({capped} over the cap left out)")
    keep = np.zeros(len(labels), dtype=bool)
    keep[indices] = True
    ref = artefact_input(ws, "embeddings", ws.embeddings_path(name),
                         embeddings_fingerprint(ws, name))
    fields = {"tokens_dropped": found.dropped, "tokens_capped": capped,
              "instance_cap": instance_cap, "attributes": len(oracle.tags)}
    return AttributeView(keep=keep, targets=rows, ref=ref, fields=fields)
