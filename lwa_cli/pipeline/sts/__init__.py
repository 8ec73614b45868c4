"""`lwa sts`: spoken STS per layer, Spearman ρ of utterance-embedding cosines vs the scores.

The utterance embeddings are the rows of the ``utt`` feature file of the set's sample (the
mean over all frames of each utterance, `lwa extract --split sts --sample NAME --span utt`);
the rows and scores come from the stored set (`lwa prepare-sts`), whose fingerprint is an
input of every result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lwa_cli.analysis.sts import sts_score
from lwa_cli.errors import LwaError
from lwa_cli.pipeline.inputs import open_features, select_layers
from lwa_cli.pipeline.results import (
    ResultSpec,
    artefact_input,
    features_input,
    record_field,
    score_layers,
)
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.samples import load_sample
from lwa_cli.workspace.sts import STS_SPLIT, load_sts, sts_path


@dataclass(frozen=True, kw_only=True)
class STSOptions:
    """The options that define an STS result (the reference's: mean, all speakers)."""

    mean: bool
    exclude_same_speaker: bool = record_field()


def run_sts(ws: Workspace, *, model: str, pairs: str, layers: Sequence[str] | None = None,
            mean: bool = True, exclude_same_speaker: bool = False, force: bool = False,
            reporter: Reporter = SILENT) -> list[dict]:
    """Spearman ρ per layer on the STS set `pairs`; one stored result per layer."""
    sts = load_sts(ws, pairs)
    smp = load_sample(ws, STS_SPLIT, "utt", pairs)
    if smp.params.get("sts_fingerprint") != sts.fingerprint:
        raise LwaError(f"the utt sample of STS set {pairs!r} does not match the set; run "
                       f"`lwa prepare-sts --from {sts.source} --name {pairs} --force`")
    with open_features(ws, model, STS_SPLIT, pairs, "utt") as feats:
        names = select_layers(feats, layers)
        utt_index = feats.rows("utt_index")
        n = len(sts.utt_ids)
        if not np.array_equal(np.sort(utt_index), np.arange(n)):
            raise LwaError(f"{feats.path} holds {np.unique(utt_index).size} of the {n} "
                           f"utterances of STS set {pairs!r}; extract it again with --force")
        spec = ResultSpec.build(
            "sts", model, STS_SPLIT, pairs,
            {"features": features_input(ws, feats),
             "pairs": artefact_input(ws, "sts", sts_path(ws, pairs), sts.fingerprint)},
            STSOptions(mean=mean, exclude_same_speaker=exclude_same_speaker),
            {"mode": "mean" if mean else "all", "scores": sts.score_note})

        def score(name: str) -> dict:
            emb = np.empty(feats.features(name).shape, dtype=np.float64)
            emb[utt_index] = feats.features(name)[...]
            res = sts_score(emb, sts.pair_ids, sts.pair_speakers, sts.utt_a, sts.utt_b,
                            sts.scores, mean=mean, exclude_same_speaker=exclude_same_speaker)
            out = res.to_dict()
            return {"score": res.rho, "rho": res.rho, "pairs": res.n_pairs,
                    "values": res.n_values, "combinations": res.n_combinations,
                    "speakers_per_pair": out["speakers_per_pair"]}

        return score_layers(ws, spec, names, score, force=force, reporter=reporter)
