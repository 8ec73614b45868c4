"""Embedding maps: word-vector files in every supported format, one-hot codes, look-ups."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors

from lwa_cli.analysis.embeddings import load_word_vectors, lookup, one_hot
from lwa_cli.errors import LwaError

WORDS = ["the", "of", "naïve", "cat", "dog"]


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(len(WORDS), 6)).astype(np.float32)


def _glove_text(vectors: np.ndarray) -> str:
    return "".join(
        word + " " + " ".join(repr(float(v)) for v in row) + "\n"
        for word, row in zip(WORDS, vectors, strict=True)
    )


def _write_all_formats(tmp_path: Path, vectors: np.ndarray) -> list[Path]:
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(WORDS, vectors)
    paths = []
    for name, binary in [("w2v.txt", False), ("w2v.txt.gz", False), ("w2v.bin", True),
                         ("w2v_binary_without_suffix", True)]:
        kv.save_word2vec_format(str(tmp_path / name), binary=binary)
        paths.append(tmp_path / name)
    glove = tmp_path / "glove.txt"
    glove.write_text(_glove_text(vectors), encoding="utf-8")
    glove_gz = tmp_path / "glove.6B.6d.txt.gz"
    with gzip.open(glove_gz, "wt", encoding="utf-8") as handle:
        handle.write(_glove_text(vectors))
    return [*paths, glove, glove_gz]


def test_load_word_vectors_every_format(tmp_path: Path, vectors: np.ndarray) -> None:
    paths = _write_all_formats(tmp_path, vectors)
    assert (tmp_path / "w2v.txt").read_text(encoding="utf-8").startswith("5 6\n")
    for path in paths:
        words, matrix = load_word_vectors(path)
        assert words == WORDS, path.name
        assert matrix.dtype == np.float32 and matrix.shape == (5, 6)
        # Text formats round-trip float32 via repr; binary stores the bits.
        np.testing.assert_array_equal(matrix, vectors, err_msg=path.name)


def test_glove_line_that_looks_like_a_header_is_data(tmp_path: Path) -> None:
    # A first line of two integers reads as a "V D" header. In a 1-D file whose first word is
    # a number that header then promises 12 vectors of 34 dims: a clear error, not a silently
    # wrong vocabulary. Further down, such a line is ordinary data.
    path = tmp_path / "ints.txt"
    path.write_text("12 34\nword 1.0\n")
    with pytest.raises(LwaError, match="cannot read word vectors from"):
        load_word_vectors(path)
    path.write_text("word 1.5\n12 3.0\n")
    words, matrix = load_word_vectors(path)
    assert words == ["word", "12"]
    np.testing.assert_array_equal(matrix, np.array([[1.5], [3.0]], dtype=np.float32))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "is empty"),
        ("ragged.txt", b"a 1 2 3\nb 1 2\n", "cannot read word vectors from"),
        ("notfloat.txt", b"a 1 x 3\n", "could not convert string to float"),
        ("short_header.txt", b"3 2\na 1 2\n", "cannot read word vectors from"),
        ("broken.gz", b"\x1f\x8b\x08\x00garbage", "cannot read word vectors from"),
        ("nan.txt", b"a nan 1\nb 1 2\n", "NaN or infinite"),
    ],
)
def test_load_word_vectors_corrupt(tmp_path: Path, name: str, content: bytes,
                                   message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LwaError, match=message):
        load_word_vectors(path)


def test_truncated_binary_and_missing_file(tmp_path: Path, vectors: np.ndarray) -> None:
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(WORDS, vectors)
    full = tmp_path / "full.bin"
    kv.save_word2vec_format(str(full), binary=True)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(full.read_bytes()[:-9])
    with pytest.raises(LwaError, match=rf"cannot read word vectors from {cut}"):
        load_word_vectors(cut)
    with pytest.raises(LwaError, match="does not exist"):
        load_word_vectors(tmp_path / "nope.txt")


def test_one_hot() -> None:
    phones = ["aa", "ae", "ah", "b"]
    matrix = one_hot(phones)
    assert matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix, np.eye(4, dtype=np.float32))
    np.testing.assert_array_equal(matrix.argmax(axis=1), np.arange(4))
    with pytest.raises(LwaError, match="duplicated"):
        one_hot(["aa", "b", "aa"])
    with pytest.raises(LwaError, match="empty vocabulary"):
        one_hot([])


def test_lookup_returns_found_rows_in_order(vectors: np.ndarray) -> None:
    needed = ["dog", "zebra", "the", "dog", "Cat"]
    rows, found = lookup(needed, WORDS, vectors)
    np.testing.assert_array_equal(found, [True, False, True, True, False])
    np.testing.assert_array_equal(rows, vectors[[4, 0, 4]])
    rows, found = lookup([], WORDS, vectors)
    assert rows.shape == (0, 6) and found.shape == (0,)
    # The first of duplicated vocabulary entries wins.
    rows, _ = lookup(["x"], ["x", "x"], np.array([[1.0], [2.0]]))
    np.testing.assert_array_equal(rows, [[1.0]])
    with pytest.raises(LwaError, match="5 words but a matrix of shape"):
        lookup(["the"], WORDS, vectors[:4])
