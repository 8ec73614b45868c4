"""`lwa embeddings`: store GloVe / AGWE maps and one-hot codes in the workspace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lwa_cli.analysis.embeddings import load_word_vectors, one_hot
from lwa_cli.data.corpus import SPLITS
from lwa_cli.data.phones import PHONES_39
from lwa_cli.data.sampling import select_top_words
from lwa_cli.errors import LwaError, param_error
from lwa_cli.pipeline.sample import train_inventory
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.alignments import has_alignments, load_inventory
from lwa_cli.workspace.embeddings import (
    embeddings_fingerprint,
    embeddings_origin,
    has_embeddings,
    load_embeddings,
    save_embeddings,
)
from lwa_cli.workspace.provenance import array_digest, file_digest


@dataclass(frozen=True)
class EmbeddingsSummary:
    name: str
    path: str
    words: int
    dims: int
    source: str
    left_out: int = 0
    status: str = "stored"  # or "exists" (kept: same source file and options)


def refuse_replacing(ws: Workspace, name: str, force: bool, how: str) -> None:
    """Refuse to replace the stored map `name` by a different one unless `force`.

    Results computed from a map record its fingerprint: replacing it makes them stale, so
    that is never done silently (`how` says how the new map differs, for the message).
    """
    if force or not has_embeddings(ws, name):
        return
    words, _ = load_embeddings(ws, name)
    raise LwaError(f"the {name} map in {ws.root} ({len(words)} words) differs from the one "
                   f"asked for ({how}); replacing it makes the results computed from it "
                   "stale. Use --force to replace it")


def store_one_hot(ws: Workspace, *, words: int = 500, split: str = "dev-clean",
                  force: bool = False, reporter: Reporter = SILENT) -> list[EmbeddingsSummary]:
    """One-hot codes of the 39 phones and of the top `words` words (train inventory).

    A stored map with the same content is kept (status ``exists``); one with other content
    (another `words`, another inventory) is replaced only with `force`.

    Raises
    ------
    LwaError : a different map is stored and not `force`.
    """
    ws.check()
    if words < 1:
        raise param_error("words", words, "must be at least 1")
    labels, _ = train_inventory(ws, split, "words", reporter)
    vocab = select_top_words(labels, words).tolist()
    out = []
    for name, labels_, extra in (("one-hot-phone", PHONES_39, {}),
                                 ("one-hot-word", vocab, {"top_words": words})):
        words_arr = np.asarray(labels_, dtype=str)
        matrix = one_hot(labels_)
        path = str(ws.embeddings_path(name))
        if has_embeddings(ws, name) and embeddings_fingerprint(ws, name) == array_digest(
                words_arr, np.asarray(matrix, dtype=np.float32)):
            out.append(EmbeddingsSummary(name, path, len(labels_), len(labels_), "one-hot",
                                         status="exists"))
            continue
        refuse_replacing(ws, name, force, f"--words {words}: {len(labels_)} words")
        path = save_embeddings(ws, name, labels_, matrix, source="one-hot", **extra)
        out.append(EmbeddingsSummary(name, path, len(labels_), len(labels_), "one-hot"))
    return out


def store_word_vectors(ws: Workspace, name: str, path: Path, *, all_words: bool = False,
                       force: bool = False, reporter: Reporter = SILENT) -> EmbeddingsSummary:
    """Store a GloVe/AGWE-style map, restricted to the words of the prepared splits.

    Restricting keeps the workspace small (GloVe has millions of words, LibriSpeech ~90k);
    `all_words` stores the whole map. A map already stored from the same file (same bytes)
    with the same options is kept as it is unless `force`; one from another file or with
    other options is replaced only with `force`.
    """
    ws.check()
    path = Path(path)
    if not path.is_file():
        raise LwaError(f"--path {path}: no such file")
    corpus_words: set[str] = set()
    for split in SPLITS:
        if has_alignments(ws, split):
            corpus_words.update(load_inventory(ws, split, "words")[0].tolist())
    restrict = bool(corpus_words) and not all_words
    options = {"all_words": all_words,
               "corpus_words": array_digest(np.array(sorted(corpus_words))) if restrict else None}
    source_fp = file_digest(path)
    if not force and embeddings_origin(ws, name) == (source_fp, options):
        words, matrix = load_embeddings(ws, name)
        reporter.info(f"{name}: stored from the same file with the same options (--force "
                      "reads it again)")
        return EmbeddingsSummary(name, str(ws.embeddings_path(name)), len(words),
                                 int(matrix.shape[1]), str(path), status="exists")
    refuse_replacing(ws, name, force, f"read from {path}")
    words, matrix = load_word_vectors(path)
    left_out = 0
    if restrict:
        keep = np.fromiter((w in corpus_words for w in words), dtype=bool, count=len(words))
        left_out = int((~keep).sum())
        words = [w for w, k in zip(words, keep, strict=True) if k]
        matrix = matrix[keep]
        reporter.info(f"kept {len(words)} of {len(words) + left_out} vectors: those of words in "
                      "the prepared splits (--all-words keeps all)")
    stored = save_embeddings(ws, name, words, matrix, source=str(path.resolve()),
                             options=options, source_fingerprint=source_fp)
    return EmbeddingsSummary(name, stored, len(words), int(matrix.shape[1]), str(path), left_out)
