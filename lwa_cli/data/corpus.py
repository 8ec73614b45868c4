"""LibriSpeech directory layout: split names, audio files, transcripts and alignment files.

Layout (SPEC §2)::

    ROOT/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac   (or .wav)
    ROOT/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt
    ALIGN_ROOT/<split>/<speaker>/<chapter>/<utt>.TextGrid
"""

from __future__ import annotations

import os
from pathlib import Path

from lwa_cli.errors import LwaError, LwaUsageError

#: Real LibriSpeech splits.
SPLITS: tuple[str, ...] = (
    "dev-clean",
    "dev-other",
    "test-clean",
    "test-other",
    "train-clean-100",
    "train-clean-360",
    "train-other-500",
)

#: The real splits that are training data.
TRAIN_SPLITS: tuple[str, ...] = ("train-clean-100", "train-clean-360", "train-other-500")

#: Unions of real splits, addressable by name.
VIRTUAL_SPLITS: dict[str, tuple[str, ...]] = {
    "train-clean": ("train-clean-100", "train-clean-360"),
    "train": TRAIN_SPLITS,
}

#: Audio extensions searched, in order of preference when an utterance has both.
AUDIO_EXTENSIONS: tuple[str, ...] = (".flac", ".wav")


def expand_split(name: str) -> tuple[str, ...]:
    """Return the real splits that make up ``name``.

    Parameters
    ----------
    name : str
        A real split (``dev-clean``) or a virtual one (``train-clean``, ``train``).

    Returns
    -------
    tuple of str
        ``(name,)`` for a real split, its constituents for a virtual split.

    Raises
    ------
    LwaUsageError
        For an unknown name; the message lists the valid ones.
    """
    if name in SPLITS:
        return (name,)
    if name in VIRTUAL_SPLITS:
        return VIRTUAL_SPLITS[name]
    valid = ", ".join((*SPLITS, *VIRTUAL_SPLITS))
    raise LwaUsageError(f"unknown split {name!r}; valid splits: {valid}")


def is_train_split(name: str) -> bool:
    """Whether ``name`` (real or virtual) is training data, which selects train sampling rules.

    Raises
    ------
    LwaUsageError
        For an unknown split name.
    """
    return all(part in TRAIN_SPLITS for part in expand_split(name))


def _split_dir(root: str | os.PathLike[str], split: str, what: str) -> Path:
    """Return ``root/split`` as an absolute path, or raise if it is not a directory."""
    if split not in SPLITS:
        valid = ", ".join(SPLITS)
        raise LwaUsageError(f"{split!r} is not a real LibriSpeech split; use one of {valid}")
    path = Path(root).expanduser().absolute() / split
    if not path.is_dir():
        raise LwaError(
            f"{what} directory for split {split!r} not found: {path}; check the root path "
            f"({Path(root)}) and that the split is downloaded and extracted there"
        )
    return path


def find_audio(corpus_root: str | os.PathLike[str], split: str) -> dict[str, Path]:
    """Map utterance id to its audio file under ``corpus_root/split/<speaker>/<chapter>/``.

    FLAC is preferred over WAV when both exist for an utterance.

    Raises
    ------
    LwaError
        If the split directory is missing.
    """
    split_dir = _split_dir(corpus_root, split, "audio")
    found: dict[str, Path] = {}
    for ext in AUDIO_EXTENSIONS:
        for path in sorted(split_dir.glob(f"*/*/*{ext}")):
            found.setdefault(path.name[: -len(ext)], path)
    return found


def find_alignments(align_root: str | os.PathLike[str], split: str) -> dict[str, Path]:
    """Map utterance id to its TextGrid under ``align_root/split`` (searched recursively).

    The search is recursive, and the ``.TextGrid`` suffix case-insensitive, because aligners
    differ in the depth of speaker/chapter directories they write.

    Raises
    ------
    LwaError
        If the split directory is missing or an utterance id occurs twice.
    """
    split_dir = _split_dir(align_root, split, "alignment")
    found: dict[str, Path] = {}
    for dirpath, _dirnames, filenames in os.walk(split_dir):
        for filename in filenames:
            stem, suffix = os.path.splitext(filename)
            if suffix.lower() != ".textgrid":
                continue
            path = Path(dirpath) / filename
            if stem in found:
                raise LwaError(
                    f"utterance {stem!r} has two TextGrids ({found[stem]} and {path}); "
                    "remove one of them"
                )
            found[stem] = path
    return dict(sorted(found.items()))


def read_transcripts(corpus_root: str | os.PathLike[str], split: str) -> dict[str, str]:
    """Read every ``<speaker>-<chapter>.trans.txt`` of a split.

    Returns
    -------
    dict
        Utterance id → transcript text, as written in the file (LibriSpeech: upper case).

    Raises
    ------
    LwaError
        If the split directory is missing or a transcript file cannot be decoded.
    """
    split_dir = _split_dir(corpus_root, split, "audio")
    transcripts: dict[str, str] = {}
    for path in sorted(split_dir.glob("*/*/*.trans.txt")):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise LwaError(f"cannot read transcript file {path}: {exc}") from exc
        for line in lines:
            parts = line.strip().split(maxsplit=1)
            if parts:
                transcripts[parts[0]] = parts[1] if len(parts) > 1 else ""
    return transcripts
