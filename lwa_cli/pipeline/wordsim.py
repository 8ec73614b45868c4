"""`lwa wordsim`: static word embeddings per layer scored on word-similarity benchmarks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lwa_cli.analysis.wordsim import (
    builtin_benchmark,
    evaluate_wordsim,
    read_benchmark,
    static_embeddings,
)
from lwa_cli.pipeline.inputs import open_features, select_layers
from lwa_cli.pipeline.results import ResultSpec, features_input, score_layers
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.provenance import array_digest

BUILTIN = ("wordsim353", "simlex999")


@dataclass(frozen=True, kw_only=True)
class WordsimOptions:
    """The options that define a wordsim result: each benchmark's pairs, by digest."""

    benchmarks: dict[str, str]


def run_wordsim(ws: Workspace, *, model: str, split: str = "train-clean", sample: str = "1",
                layers: Sequence[str] | None = None,
                benchmarks: Mapping[str, Path] | None = None, force: bool = False,
                reporter: Reporter = SILENT) -> list[dict]:
    """Spearman ρ per benchmark and layer, with micro/macro averages; stores one result each.

    Benchmarks: WordSim-353 and SimLex-999 (as shipped with gensim) unless `benchmarks`
    names files (``NAME=PATH``); a given name equal to a built-in one replaces it. The
    benchmarks' pairs are part of the provenance: a stored result is reused while they and
    the features are unchanged.
    """
    pairs = {name: builtin_benchmark(name) for name in BUILTIN}
    pairs.update({name: read_benchmark(path) for name, path in (benchmarks or {}).items()})
    with open_features(ws, model, split, sample, "wordsim") as feats:
        names = select_layers(feats, layers)
        labels = feats.rows("label")
        options = WordsimOptions(benchmarks={name: array_digest(np.array(p, dtype=str))
                                             for name, p in sorted(pairs.items())})
        spec = ResultSpec.build("wordsim", model, split, sample,
                                {"features": features_input(ws, feats)}, options)

        def score(name: str) -> dict:
            words, emb = static_embeddings(feats.features(name), labels)
            res = evaluate_wordsim(words, emb, pairs)
            for bench, why in res.skipped.items():
                reporter.warn(f"{name}: benchmark {bench} left out: {why}")
            return {"score": res.micro, "micro": res.micro, "macro": res.macro,
                    "words": len(words),
                    "benchmarks": {b: {"rho": s.rho, "pairs_kept": s.n_pairs_kept,
                                       "pairs_total": s.n_pairs_total}
                                   for b, s in res.scores.items()},
                    "skipped": res.skipped}

        return score_layers(ws, spec, names, score, force=force, reporter=reporter)
