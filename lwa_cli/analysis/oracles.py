"""QVEC linguistic-attribute oracles: the attribute maps of ``lwa cca semantic|syntactic``.

An oracle (Tsvetkov et al., github ``ytsvetko/qvec``, ``oracles/*``) is plain text, one word per
line::

    word<TAB>{"tag": probability, ...}

The JSON object is the word's distribution over tags: WordNet supersenses counted in SemCor
(``semcor_noun_verb.supersenses.en``, 41 tags) or Penn Treebank POS tags (``ptb.pos_tags``, 45).

The matrix has one float64 row per word (file order) and one column per tag, in order of the
tag's first appearance: lines top to bottom, each object's keys in written order. That is the
reference's column order (``PrepData`` of ``codes/prepare/prep_linguistic_attributes.py``).
Every column is kept: tags that no sampled token carries give constant columns, which the CCA's
ε pruning removes, as in the reference.

Parsing is strict: a line without exactly one tab, an empty word, JSON that is not an object of
tag → number (duplicated tags included), a value that is negative or not finite, an object
without tags, or a word given twice raises `LwaError` naming ``file:line``. Lines end at ``\\n``
(a ``\\r`` before it is dropped); surrounding spaces of the word and the object are ignored,
like the reference's ``line.strip()``.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lwa_cli.errors import LwaError


@dataclass(frozen=True)
class Oracle:
    """A parsed oracle.

    Attributes
    ----------
    words : list of str
        The words, in file order (unique).
    tags : list of str
        Column names, in order of first appearance.
    matrix : ndarray of float64, shape (len(words), len(tags))
        ``matrix[i, j]`` = the value of tag j for word i (0 where the word's object lacks it).
    """

    words: list[str]
    tags: list[str]
    matrix: np.ndarray

    def __post_init__(self) -> None:
        if self.matrix.shape != (len(self.words), len(self.tags)):
            raise LwaError(
                f"oracle matrix has shape {self.matrix.shape} for {len(self.words)} words and "
                f"{len(self.tags)} tags."
            )


class _TagPairs(list):
    """A JSON object as its (key, value) pairs in written order (a list, so not a JSON array)."""


def _reject_duplicate_tags(pairs: list[tuple[str, object]]) -> _TagPairs:
    """``object_pairs_hook`` that keeps key order and refuses a key written twice."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"tag {key!r} appears twice")
        seen.add(key)
    return _TagPairs(pairs)


def _parse_line(line: str, where: str) -> tuple[str, list[tuple[str, float]]]:
    """One ``word<TAB>{json}`` line as (word, [(tag, value), ...]) in written key order."""
    fields = line.split("\t")
    if len(fields) != 2:
        raise LwaError(
            f"{where}: expected one tab between the word and its JSON object, found "
            f"{len(fields) - 1}."
        )
    word, text = fields[0].strip(), fields[1].strip()
    if not word:
        raise LwaError(f"{where}: the word before the tab is empty.")
    try:
        pairs = json.loads(text, object_pairs_hook=_reject_duplicate_tags)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError, as are duplicate tags
        raise LwaError(f"{where}: the text after the tab is not valid JSON ({exc}).") from None
    if not isinstance(pairs, _TagPairs):
        raise LwaError(f"{where}: expected a JSON object of tag → probability, found "
                       f"{type(pairs).__name__}.")
    if not pairs:
        raise LwaError(f"{where}: the word {word!r} has no tags.")
    out = []
    for tag, value in pairs:
        # bool is an int subclass in Python; JSON true/false is not a probability.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LwaError(f"{where}: the value of tag {tag!r} is not a number: {value!r}.")
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise LwaError(f"{where}: the value of tag {tag!r} must be finite and ≥ 0, not "
                           f"{value!r}.")
        out.append((tag, value))
    return word, out


def parse_oracle(lines: Iterable[str], source: str = "<oracle>") -> Oracle:
    """Parse oracle lines (see the module doc) into an `Oracle`.

    Parameters
    ----------
    lines : iterable of str
        The file's lines, with or without their line ends.
    source : str
        File name used in error messages (``source:line``).

    Raises
    ------
    LwaError
        A malformed line, a duplicate word, or no lines at all.
    """
    words: list[str] = []
    rows: list[list[tuple[str, float]]] = []
    first_line: dict[str, int] = {}
    column: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        where = f"{source}:{number}"
        word, pairs = _parse_line(raw.rstrip("\n").rstrip("\r"), where)
        if word in first_line:
            raise LwaError(f"{where}: the word {word!r} was already given on line "
                           f"{first_line[word]}.")
        first_line[word] = number
        for tag, _ in pairs:
            column.setdefault(tag, len(column))
        words.append(word)
        rows.append(pairs)
    if not words:
        raise LwaError(f"{source}: the oracle has no lines.")
    matrix = np.zeros((len(words), len(column)), dtype=np.float64)
    for i, pairs in enumerate(rows):
        for tag, value in pairs:
            matrix[i, column[tag]] = value
    return Oracle(words=words, tags=list(column), matrix=matrix)


def read_oracle(path: str | Path) -> Oracle:
    """Read a QVEC oracle file (UTF-8; gzip-compressed when its name ends in ``.gz``).

    Raises
    ------
    LwaError
        Missing or undecodable file, or any parse error of `parse_oracle` (``file:line``).
    """
    path = Path(path)
    if not path.is_file():
        raise LwaError(f"oracle file {path} does not exist; check the path.")
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="\n") as handle:
            return parse_oracle(handle, source=str(path))
    except UnicodeDecodeError as exc:
        raise LwaError(f"oracle file {path} is not UTF-8 text ({exc}).") from None
    except (OSError, EOFError) as exc:  # a broken gzip stream
        raise LwaError(f"cannot read oracle file {path}: {exc}") from None


def format_oracle(words: Iterable[str], rows: Iterable[dict[str, float]]) -> str:
    """Write ``word<TAB>json.dumps(row)`` lines (QVEC's layout), LF, with a final newline.

    ``json.dumps`` prints floats with ``repr`` (shortest round-trip), so `parse_oracle` gives
    back exactly the values written.
    """
    return "".join(f"{word}\t{json.dumps(row)}\n" for word, row in zip(words, rows, strict=True))
