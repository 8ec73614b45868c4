"""`lwa wordsim`: static word embeddings per layer scored on word-similarity benchmarks."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from lwa_cli import __version__
from lwa_cli.analysis.wordsim import (
    builtin_benchmark,
    evaluate_wordsim,
    read_benchmark,
    static_embeddings,
)
from lwa_cli.pipeline.extract import open_features, select_layers
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.results import save_result

BUILTIN = ("wordsim353", "simlex999")


def run_wordsim(ws: Workspace, *, model: str, split: str = "train-clean", sample: str = "1",
                layers: Sequence[str] | None = None,
                benchmarks: Mapping[str, Path] | None = None,
                reporter: Reporter = SILENT) -> list[dict]:
    """Spearman ρ per benchmark and layer, with micro/macro averages; stores one result each.

    Benchmarks: WordSim-353 and SimLex-999 (as shipped with gensim) unless `benchmarks`
    names files (``NAME=PATH``); a given name equal to a built-in one replaces it.
    """
    pairs = {name: builtin_benchmark(name) for name in BUILTIN}
    pairs.update({name: read_benchmark(path) for name, path in (benchmarks or {}).items()})
    records = []
    with open_features(ws, model, split, sample, "wordsim") as feats:
        names = select_layers(feats, layers)
        labels = feats.rows("label")
        with reporter.task(f"wordsim {model}", len(names), "layer") as advance:
            for name in names:
                t0 = time.perf_counter()
                words, emb = static_embeddings(feats.features(name), labels)
                res = evaluate_wordsim(words, emb, pairs)
                for bench, why in res.skipped.items():
                    reporter.warn(f"{name}: benchmark {bench} left out: {why}")
                record = {"analysis": "wordsim", "model": model, "split": split,
                          "sample": sample, "layer": name, "score": res.micro,
                          "micro": res.micro, "macro": res.macro, "words": len(words),
                          "benchmarks": {b: {"rho": s.rho, "pairs_kept": s.n_pairs_kept,
                                             "pairs_total": s.n_pairs_total}
                                         for b, s in res.scores.items()},
                          "skipped": res.skipped,
                          "wall_seconds": round(time.perf_counter() - t0, 3),
                          "lwa_version": __version__}
                record["file"] = save_result(ws, record)
                records.append(record)
                advance(1)
    return records
