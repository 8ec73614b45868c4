"""Word-similarity evaluation of static word embeddings built from one layer (SPEC §8).

A word's static embedding is the mean of its instances' mean-pooled features. For each
benchmark, Spearman's rho (scipy ``spearmanr``, average ranks for ties) is taken between the
cosine similarity ``1 - scipy.spatial.distance.cosine(u, v)`` of the two words and the human
score, over the pairs whose two words both have an embedding. Per layer, the micro average
weights each benchmark's rho by its number of kept pairs; the macro average is the plain mean.

A benchmark whose rho is undefined (fewer than 2 covered pairs, or all kept pairs sharing one
human score or one cosine similarity) is left out of both averages and listed in
`WordsimResult.skipped` with the reason; when no benchmark is left, `LwaError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.spatial.distance import cosine
from scipy.stats import spearmanr

from lwa_cli.errors import LwaError, LwaUsageError

#: A benchmark: (word1, word2, human score) triples.
Pairs = list[tuple[str, str, float]]

#: Benchmarks available by name, as files shipped in gensim's ``test/test_data``.
BUILTIN_BENCHMARKS: dict[str, str] = {
    "wordsim353": "wordsim353.tsv",
    "simlex999": "simlex999.txt",
}

# Rows are summed this many at a time so that a float32 (N, D) input never needs a full
# float64 copy; it also lets `features` be an h5py dataset read block by block.
_CHUNK_ROWS = 65536


@dataclass(frozen=True)
class BenchmarkScore:
    """Spearman rho of one benchmark and how many of its pairs were usable."""

    rho: float
    n_pairs_kept: int
    n_pairs_total: int


@dataclass(frozen=True)
class WordsimResult:
    """Word-similarity scores of one layer.

    Attributes
    ----------
    scores : dict[str, BenchmarkScore]
        Per benchmark with a defined rho, in the input order.
    micro : float
        ``sum(rho_t * kept_t) / sum(kept_t)`` over `scores`.
    macro : float
        Plain mean of rho over `scores`.
    skipped : dict[str, str]
        Benchmarks left out of the averages because their rho is undefined, with the reason.
    """

    scores: dict[str, BenchmarkScore]
    micro: float
    macro: float
    skipped: dict[str, str] = field(default_factory=dict)


def static_embeddings(
    features: np.ndarray, labels: Sequence[str] | np.ndarray
) -> tuple[list[str], np.ndarray]:
    """Average the instance rows of each word into one static embedding.

    Parameters
    ----------
    features : array-like, shape (N, D)
        One mean-pooled feature row per word instance; anything sliceable by rows (a numpy
        array or an h5py dataset) is read in blocks and summed in float64.
    labels : array-like of str, shape (N,)
        The word of each row.

    Returns
    -------
    words : list of str
        Distinct words, sorted.
    E : ndarray of float64, shape (W, D)
        Row ``i`` is the mean of the rows labelled ``words[i]``.
    """
    labels = np.asarray(labels)
    shape = getattr(features, "shape", None)
    if shape is None or len(shape) != 2:
        raise LwaError(f"word features must be a 2-D (instances x dims) array, got {shape}.")
    n_rows, dim = int(shape[0]), int(shape[1])
    if labels.ndim != 1 or labels.shape[0] != n_rows:
        raise LwaError(
            f"{n_rows} feature rows but labels of shape {labels.shape}; the feature file and "
            "its label list do not match, so extract or combine that sample again."
        )
    if n_rows == 0:
        raise LwaError("no word instances to build static embeddings from; sample words again.")
    words, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    sums = np.zeros((len(words), dim), dtype=np.float64)
    for start in range(0, n_rows, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, n_rows)
        block = np.asarray(features[start:stop], dtype=np.float64)
        # A (W, n) 0/1 matrix times the block sums each word's rows without a Python loop.
        indicator = sp.csr_matrix(
            (np.ones(stop - start), (inverse[start:stop], np.arange(stop - start))),
            shape=(len(words), stop - start),
        )
        sums += indicator @ block
    if not np.isfinite(sums).all():
        bad = [str(w) for w in words[~np.isfinite(sums).all(axis=1)][:5]]
        raise LwaError(
            f"NaN or infinite features for word(s) {', '.join(bad)}; re-extract that layer."
        )
    return [str(w) for w in words], sums / counts[:, None]


def _split_fields(line: str) -> list[str]:
    """Split a benchmark line on tabs, else commas, else runs of whitespace."""
    if "\t" in line:
        parts = line.split("\t")
    elif "," in line:
        parts = line.split(",")
    else:
        parts = line.split()
    return [part.strip() for part in parts]


def _parse_score(text: str) -> float | None:
    """Return the score as a finite float, or None if it is not one."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_benchmark(path: str | Path, *, lowercase: bool = True) -> Pairs:
    """Read ``word1 word2 score`` lines from a csv, tsv or whitespace-separated file.

    Blank lines and lines starting with ``#`` are skipped. The first remaining line is taken
    as a header, and skipped, when it has no numeric third field; anywhere else a line that is
    not exactly ``word1 word2 score`` is an error.

    Parameters
    ----------
    path : str or Path
        Benchmark file.
    lowercase : bool
        Lower-case the words (the alignments' word labels are lower-case).

    Raises
    ------
    LwaError
        Missing/unreadable file, a malformed line (named as ``file:line``), or no pairs.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LwaError(f"benchmark file {path} does not exist; check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LwaError(f"cannot read benchmark file {path} as UTF-8 text ({exc}).") from None
    pairs: Pairs = []
    first_data_line = True
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = _split_fields(line)
        score = _parse_score(fields[2]) if len(fields) == 3 else None
        if score is None and first_data_line:
            first_data_line = False
            continue
        first_data_line = False
        if score is None or not fields[0] or not fields[1]:
            raise LwaError(
                f"{path}:{line_no}: expected 'word1 word2 score' (tab, comma or space "
                f"separated, numeric score), got {line!r}; fix or remove that line."
            )
        w1, w2 = (fields[0].lower(), fields[1].lower()) if lowercase else (fields[0], fields[1])
        pairs.append((w1, w2, score))
    if not pairs:
        raise LwaError(f"benchmark file {path} holds no word pairs; check its format.")
    return pairs


def builtin_benchmark(name: str) -> Pairs:
    """Load WordSim-353 (``"wordsim353"``) or SimLex-999 (``"simlex999"``) as gensim ships them.

    Words are lower-cased. Raises `LwaUsageError` for an unknown name and `LwaError` when the
    gensim installation lacks the file.
    """
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    if key not in BUILTIN_BENCHMARKS:
        raise LwaUsageError(
            f"unknown word-similarity benchmark {name!r}; built-in ones are "
            f"{', '.join(BUILTIN_BENCHMARKS)}, others need NAME=PATH."
        )
    from gensim.test.utils import datapath  # imported here: gensim is slow to import

    path = Path(datapath(BUILTIN_BENCHMARKS[key]))
    if not path.is_file():
        raise LwaError(
            f"gensim's copy of {name} is missing ({path}); reinstall gensim or give the file "
            f"in `benchmarks` ({key}=PATH).", params=("benchmarks",))
    return read_benchmark(path, lowercase=True)


def _undefined_rho_reason(n_pairs: int, similarities: np.ndarray, human: np.ndarray) -> str:
    """Why Spearman's rho of the kept pairs is undefined, or "" when it is defined."""
    if n_pairs == 0:
        return "none of its pairs has both words embedded"
    if n_pairs < 2:
        return "only 1 pair has both words embedded (rho needs 2)"
    if np.ptp(human) == 0:
        return f"all {n_pairs} kept pairs have the same human score"
    if np.ptp(similarities) == 0:
        return (f"all {n_pairs} kept pairs have the same cosine similarity "
                "(degenerate, e.g. constant, embeddings)")
    return ""


def evaluate_wordsim(
    words: Sequence[str], E: np.ndarray, benchmarks: Mapping[str, Pairs]
) -> WordsimResult:
    """Score one layer's static embeddings on several word-similarity benchmarks.

    Parameters
    ----------
    words : sequence of str, length W
        Vocabulary; ``words[i]`` owns row ``E[i]``.
    E : ndarray, shape (W, D)
        Static word embeddings (see `static_embeddings`).
    benchmarks : mapping of name to pairs
        Benchmarks as returned by `read_benchmark` / `builtin_benchmark`.

    Returns
    -------
    WordsimResult
        Per-benchmark rho with pairs kept/total, micro and macro averages, skipped benchmarks.

    Raises
    ------
    LwaError
        Mismatched or non-finite embeddings, a zero embedding row in a kept pair, or no
        benchmark with a defined rho.
    """
    E = np.asarray(E, dtype=np.float64)
    if E.ndim != 2 or E.shape[0] != len(words):
        raise LwaError(
            f"{len(words)} words but an embedding matrix of shape {E.shape}; they must match."
        )
    if not benchmarks:
        raise LwaError("no word-similarity benchmark given; name one or pass NAME=PATH.")
    index = {word: i for i, word in enumerate(words)}
    if len(index) != len(words):
        raise LwaError("the word list has duplicates; each word needs exactly one embedding.")
    if not np.isfinite(E).all():
        raise LwaError("word embeddings contain NaN or infinite values; re-extract that layer.")
    norms = np.linalg.norm(E, axis=1)
    scores: dict[str, BenchmarkScore] = {}
    skipped: dict[str, str] = {}
    for name, pairs in benchmarks.items():
        kept = [(index[a], index[b], s) for a, b, s in pairs if a in index and b in index]
        rows = np.array([(i, j) for i, j, _ in kept], dtype=np.intp).reshape(-1, 2)
        zero = norms[rows.ravel()] == 0
        if zero.any():
            word = words[int(rows.ravel()[np.argmax(zero)])]
            raise LwaError(f"the embedding of {word!r} is all zeros, so its cosine similarity "
                           "is undefined; re-extract that layer.")
        # scipy's per-pair cosine, exactly as the reference computes it, so that near-ties
        # rank the same way.
        similarities = np.array([1.0 - cosine(E[i], E[j]) for i, j in rows])
        human = np.array([s for _, _, s in kept], dtype=np.float64)
        reason = _undefined_rho_reason(len(kept), similarities, human)
        if reason:
            skipped[name] = f"{reason} ({len(kept)} of {len(pairs)} pairs kept)"
            continue
        scores[name] = BenchmarkScore(
            rho=float(spearmanr(similarities, human).statistic),
            n_pairs_kept=len(kept),
            n_pairs_total=len(pairs),
        )
    if not scores:
        raise LwaError(
            "no benchmark has a defined Spearman rho ("
            + "; ".join(f"{name}: {why}" for name, why in skipped.items())
            + "); sample the benchmark words (wordsim sample) and check the layer's features."
        )
    kept_counts = np.array([s.n_pairs_kept for s in scores.values()], dtype=np.float64)
    rhos = np.array([s.rho for s in scores.values()])
    return WordsimResult(
        scores=scores,
        micro=float(np.sum(rhos * kept_counts) / np.sum(kept_counts)),
        macro=float(np.mean(rhos)),
        skipped=skipped,
    )
