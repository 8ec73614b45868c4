"""`lwa sample allwords`: instances of every word that has a linguistic attribute vector.

The vocabulary is the union of the chosen attribute maps (``lwa embeddings semantic|syntactic``)
intersected with the split's words, most frequent first (ties by label), ``<unk>`` never
(:func:`lwa_cli.data.sampling.allwords_vocabulary`). Up to ``instances`` random instances per
word are drawn with a seeded Generator, and the words are packed whole into subsets of at most
``max_subset_seconds`` (first fit, :func:`lwa_cli.data.sampling.pack_words`), so an
extraction spread with ``--subset`` never splits a word across jobs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from lwa_cli.choices import ATTRIBUTE_MAPS
from lwa_cli.data import sampling
from lwa_cli.data.alignments import inventory
from lwa_cli.data.corpus import is_train_split
from lwa_cli.errors import LwaError, param_error
from lwa_cli.pipeline.prepare import load_split
from lwa_cli.pipeline.sample import (
    DEFAULT_MAX_SUBSET_SECONDS,
    _check_subset_seconds,
    _existing,
    _locked,
    _save,
    _token_sample,
)
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.embeddings import embeddings_fingerprint, has_embeddings, load_embeddings


def _vocabulary_maps(ws: Workspace, vocabulary: Sequence[str] | None) -> list[str]:
    """The attribute maps whose words make the vocabulary (default: those stored)."""
    if not vocabulary:
        stored = [n for n in ATTRIBUTE_MAPS if has_embeddings(ws, n)]
        if not stored:
            raise LwaError(f"no attribute map in {ws.root}; run `lwa embeddings semantic --path "
                           "FILE` and/or `lwa embeddings syntactic --path FILE` first")
        return stored
    names = list(dict.fromkeys(vocabulary))
    bad = [n for n in names if n not in ATTRIBUTE_MAPS]
    if bad:
        raise param_error("vocabulary", ",".join(bad),
                          f"names no attribute map; use some of {', '.join(ATTRIBUTE_MAPS)}")
    for n in names:
        if not has_embeddings(ws, n):
            raise LwaError(f"no {n} attribute map in {ws.root}; run `lwa embeddings {n} --path "
                           "FILE` first")
    return names


@_locked("allwords")
def sample_allwords(ws: Workspace, split: str, name: str, *,
                    vocabulary: Sequence[str] | None = None, instances: int = 200,
                    seed: int = 0, max_subset_seconds: float = DEFAULT_MAX_SUBSET_SECONDS,
                    force: bool = False, reporter: Reporter = SILENT):
    """Sample up to `instances` instances of every attribute-map word of `split`.

    `vocabulary` names the attribute maps (``semantic``, ``syntactic``) whose words are
    sampled; by default every stored one. The maps' fingerprints are part of the sample's
    options: a sample drawn with another oracle is not silently reused.
    """
    if instances < 1:
        raise param_error("instances", instances, "must be at least 1")
    _check_subset_seconds(max_subset_seconds)
    ws.check()
    maps = _vocabulary_maps(ws, vocabulary)
    if not is_train_split(split):
        reporter.warn(f"the all-words sample is usually drawn from train, not {split}")
    request = {"instances": instances, "vocabulary_maps": maps,
               "oracles": {n: embeddings_fingerprint(ws, n) for n in maps},
               "max_subset_seconds": max_subset_seconds}
    if old := _existing(ws, split, "allwords", name, seed, request, force, reporter):
        return old
    aligned = load_split(ws, split, reporter)
    split_words, _ = inventory(aligned.words.label, exclude=(sampling.UNK,))
    words = sampling.allwords_vocabulary(
        [load_embeddings(ws, n)[0].tolist() for n in maps], split_words.tolist())
    if not words:
        raise LwaError(f"no word of {split} is in the {' or '.join(maps)} attribute map; check "
                       "that the oracle matches the corpus (lower-case words)")
    picked = sampling.sample_allwords_tokens(aligned.words.label, words, instances,
                                             np.random.default_rng(seed))
    sample = _token_sample(aligned, aligned.words, picked, kind="allwords", name=name, seed=seed,
                           max_subset_seconds=max_subset_seconds,
                           params={**request, "vocabulary_size": len(words)})
    tokens = sample.tokens
    subset = sampling.pack_words(tokens.label, tokens.end - tokens.start, max_subset_seconds,
                                 order=words)
    reporter.info(f"{len(words)} words, {len(picked)} instances, {int(subset.max()) + 1} "
                  "subset(s)")
    return _save(ws, dataclasses.replace(sample, subset=subset))
