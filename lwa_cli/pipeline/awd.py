"""`lwa awd`: acoustic word discrimination (same-different AP) of each layer's word segments.

The tokens are the rows of a ``word`` feature file: one mean-pooled segment per sampled word
token, labelled with its word; their durations come from the sample the file was extracted
from. The AWE literature's filters (word length, duration, a cap per word) pick the tokens
first; every unordered pair of the kept tokens is then a same/different trial (see
`lwa_cli.analysis.awd`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lwa_cli.analysis.awd import (
    DISTANCES,
    SPEAKER_PAIRS,
    TIE_RULE,
    awd_score,
    select_awd_tokens,
)
from lwa_cli.errors import LwaError, param_error
from lwa_cli.pipeline.inputs import open_features, select_layers
from lwa_cli.pipeline.results import (
    UNSET,
    ResultSpec,
    features_input,
    record_field,
    score_layers,
)
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.samples import load_sample


@dataclass(frozen=True, kw_only=True)
class AWDOptions:
    """The options that define an AWD result: distance, MVN and the token filter."""

    distance: str = record_field()
    mvn: bool = record_field()
    min_chars: int
    min_seconds: float
    max_per_word: int | None
    seed: int | None  # only matters with a cap: None without one

    # "all" is left out (UNSET), so results from before the speaker conditions stay current
    speaker_pairs: object = UNSET

    @classmethod
    def of(cls, distance: str, mvn: bool, min_chars: int, min_seconds: float,
           max_per_word: int | None, seed: int, speaker_pairs: str = "all") -> AWDOptions:
        return cls(distance=distance, mvn=mvn, min_chars=min_chars,
                   min_seconds=float(min_seconds), max_per_word=max_per_word,
                   seed=seed if max_per_word is not None else None,
                   speaker_pairs=UNSET if speaker_pairs == "all" else speaker_pairs)

    @property
    def filters(self) -> dict:
        """The token filter as stored in results."""
        return {"min_chars": self.min_chars, "min_seconds": self.min_seconds,
                "max_per_word": self.max_per_word, "seed": self.seed}


def token_filter_text(filters: dict) -> str:
    """A short description of the filter ("all" when nothing is filtered)."""
    bits = []
    if filters["min_chars"]:
        bits.append(f"chars>={filters['min_chars']}")
    if filters["min_seconds"]:
        bits.append(f"seconds>={filters['min_seconds']:g}")
    if filters["max_per_word"] is not None:
        bits.append(f"max {filters['max_per_word']}/word (seed {filters['seed']})")
    return ", ".join(bits) or "all"


def run_awd(ws: Workspace, *, model: str, split: str = "dev-clean", sample: str = "1",
            layers: Sequence[str] | None = None, distance: str = "cosine", mvn: bool = False,
            min_chars: int = 0, min_seconds: float = 0.0, max_per_word: int | None = None,
            seed: int = 0, speaker_pairs: str = "all", force: bool = False,
            reporter: Reporter = SILENT) -> list[dict]:
    """Same-different AP (score) and PRB per layer of a word sample; one result per layer.

    ``speaker_pairs`` "different" / "same" keeps as positives only the same-word pairs of two
    different speakers / of one speaker (each token's speaker is its utterance's), a result
    variant of its own (field ``speakers``).

    The filter, the distance and MVN are options of the result (and, when not the defaults,
    of its file tag); the features' fingerprint (which covers the sample, hence the token
    durations) is its input.
    """
    if distance not in DISTANCES:
        raise param_error("distance", distance, f"is not one of {', '.join(DISTANCES)}")
    if speaker_pairs not in SPEAKER_PAIRS:
        raise param_error("speaker_pairs", speaker_pairs,
                          f"is not one of {', '.join(SPEAKER_PAIRS)}")
    options = AWDOptions.of(distance, mvn, min_chars, min_seconds, max_per_word, seed,
                            speaker_pairs)
    filters = options.filters
    with open_features(ws, model, split, sample, "word") as feats:
        names = select_layers(feats, layers)
        labels = feats.rows("label")
        smp = load_sample(ws, split, "word", sample)
        token = feats.rows("token_index")
        durations = (smp.tokens.end - smp.tokens.start)[token]
        speakers = np.array([u.split("-")[0] for u in
                             smp.utt_ids[smp.tokens.utt_index[token]].astype(str)])
        keep = select_awd_tokens(labels, durations, min_chars=min_chars,
                                 min_seconds=min_seconds, max_per_word=max_per_word, seed=seed)
        if keep.size < 2 or np.unique(labels[keep]).size == keep.size:
            raise LwaError(f"{keep.size} of {labels.size} word tokens pass the filter "
                           f"({token_filter_text(filters)}) and no two share a word, so there "
                           "is no same pair; relax `min_chars` / `min_seconds` / "
                           "`max_per_word` or sample more words",
                           params=("min_chars", "min_seconds", "max_per_word"))
        spec = ResultSpec.build("awd", model, split, sample,
                                {"features": features_input(ws, feats)}, options,
                                {"speakers": None if speaker_pairs == "all" else speaker_pairs,
                                 "token_filter": token_filter_text(filters), "filters": filters})

        def score(name: str) -> dict:
            res = awd_score(feats.features(name)[...][keep], labels[keep], distance=distance,
                            mvn=mvn, speakers=speakers[keep], speaker_pairs=speaker_pairs)
            return {"score": res.ap, "ap": res.ap, "prb": res.prb,
                    "ap_ties_min": res.ap_ties_min, "ap_ties_max": res.ap_ties_max,
                    "n": res.n_tokens, "tokens_total": int(labels.size),
                    "pairs": res.n_pairs, "same_pairs": res.n_same_pairs,
                    "types": res.n_types, "types_paired": res.n_types_paired,
                    "mixed_tie_groups": res.n_mixed_tie_groups, "tie_rule": TIE_RULE}

        return score_layers(ws, spec, names, score, force=force, reporter=reporter)
