"""Reading a list of audio files (``utt_id<TAB>path`` lines) for samples of any corpus.

`lwa sample frame --from-list FILE.tsv` builds a frame sample from such a list, so corpora
without the LibriSpeech layout (Buckeye, ...) can be segmented. Relative paths are taken
relative to the list file's folder (or ``root``). Blank lines are ignored; everything else is
checked, and every error names ``file:line``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lwa_cli.data.audio import audio_duration
from lwa_cli.data.intervals import check_utt_id
from lwa_cli.errors import LwaError


@dataclass(frozen=True)
class AudioList:
    """Utterances of a list file, in file order.

    Attributes
    ----------
    utt_ids : np.ndarray
        str ids.
    audio_paths : np.ndarray
        str absolute paths.
    durations : np.ndarray
        float64 seconds, from the audio file headers (soundfile).
    """

    utt_ids: np.ndarray
    audio_paths: np.ndarray
    durations: np.ndarray


def read_audio_list(
    path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None
) -> AudioList:
    """Read an ``utt_id<TAB>path`` list and the durations of its audio files.

    Raises
    ------
    LwaError
        Naming ``file:line`` for a line that is not two tab-separated fields, an id that cannot
        name a file, a repeated id (with the line of its first use), or a missing or unreadable
        audio file; or if the list has no utterance.
    """
    path = Path(path)
    base = Path(root) if root is not None else path.parent
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LwaError(f"cannot read the audio list {path} ({exc})") from exc
    ids: list[str] = []
    paths: list[str] = []
    durations: list[float] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        fields = line.rstrip("\r").split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise LwaError(f"{where}: expected 'utt_id<TAB>audio path', got {line!r}")
        utt_id, audio = fields[0].strip(), fields[1].strip()
        try:
            check_utt_id(utt_id)
        except LwaError as exc:
            raise LwaError(f"{where}: {exc}") from exc
        if utt_id in first_line:
            raise LwaError(f"{where}: utterance id {utt_id!r} repeats line {first_line[utt_id]}")
        first_line[utt_id] = number
        audio_path = Path(audio).expanduser()
        if not audio_path.is_absolute():
            audio_path = base / audio_path
        audio_path = audio_path.resolve()
        if not audio_path.is_file():
            raise LwaError(f"{where}: audio file not found: {audio_path}")
        try:
            durations.append(audio_duration(audio_path))
        except LwaError as exc:
            raise LwaError(f"{where}: {exc}") from exc
        ids.append(utt_id)
        paths.append(str(audio_path))
    if not ids:
        raise LwaError(f"the audio list {path} names no utterance")
    return AudioList(
        utt_ids=np.asarray(ids, dtype=np.str_),
        audio_paths=np.asarray(paths, dtype=np.str_),
        durations=np.asarray(durations, dtype=np.float64),
    )
