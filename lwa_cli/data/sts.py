"""Reading spoken STS offline: the ``juice500/spoken_sts`` parquet shards or a TSV manifest.

Both give *rows*: one speaker reading both sentences of one pair, with the pair's human
similarity (which must be the same on every row of a pair). Utterance ids follow the
reference (prep_spoken_sts.py): ``f"{key}_{speaker}_{a|b}"``, where the pair key is
``f"{task}_{subtask}_{pair_id}"`` for the parquet data and the manifest's ``pair_id`` otherwise.

Parquet (read with pyarrow, batch by batch): columns ``task``, ``subtask``, ``pair_id``,
``speaker_id``, ``similarity``, ``audio_a``, ``audio_b``; each audio a struct holding either
``bytes`` (an encoded audio file, decoded with soundfile) or ``array`` (float samples) plus
``sampling_rate``. Waveforms are returned mono float32 at 16 kHz (resampled with
`lwa_cli.data.audio.resample`), or written as 16 kHz WAV files under ``audio_dir``.

TSV manifest: a header naming at least ``pair_id``, ``speaker_id``, ``audio_a``, ``audio_b``,
``similarity`` (tab-separated, any column order, other columns ignored); audio paths relative
to the manifest's directory (absolute paths allowed). A file listed on several rows is one
utterance, named after its first row.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from lwa_cli.data.audio import TARGET_SR, load_audio, resample
from lwa_cli.errors import LwaError

PARQUET_COLUMNS = ("task", "subtask", "pair_id", "speaker_id", "similarity", "audio_a", "audio_b")
MANIFEST_COLUMNS = ("pair_id", "speaker_id", "audio_a", "audio_b", "similarity")


@dataclass(frozen=True)
class STSUtterance:
    """One spoken sentence: a 16 kHz waveform, a file, or both."""

    utt_id: str
    speaker: str
    path: Path | None = None
    waveform: NDArray[np.float32] | None = None


@dataclass(frozen=True)
class STSPair:
    """One speaker's reading of one sentence pair, with the pair's human score."""

    pair_id: str
    speaker: str
    utt_a: str
    utt_b: str
    score: float


@dataclass(frozen=True)
class STSData:
    """Utterances (each once, in reading order: a then b per row) and rows."""

    utterances: list[STSUtterance]
    pairs: list[STSPair]

    def index_arrays(
        self,
    ) -> tuple[list[str], list[str], NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
        """``(pair_ids, speakers, utt_a, utt_b, scores)`` with utterances as positions in
        `utterances`: the inputs of `lwa_cli.analysis.sts.sts_score`."""
        pos = {u.utt_id: i for i, u in enumerate(self.utterances)}
        return (
            [p.pair_id for p in self.pairs],
            [p.speaker for p in self.pairs],
            np.array([pos[p.utt_a] for p in self.pairs], dtype=np.intp),
            np.array([pos[p.utt_b] for p in self.pairs], dtype=np.intp),
            np.array([p.score for p in self.pairs], dtype=np.float64),
        )


def _score(value: Any, where: str) -> float:
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise LwaError(f"{where}: similarity {value!r} is not a number") from None
    if not math.isfinite(score):
        raise LwaError(f"{where}: similarity {value!r} is not finite")
    return score


class _Collector:
    """Checks rows as they come: unique (pair, speaker), one score per pair."""

    def __init__(self) -> None:
        self.utterances: list[STSUtterance] = []
        self.pairs: list[STSPair] = []
        self._scores: dict[str, tuple[float, str]] = {}
        self._seen: set[tuple[str, str]] = set()
        self._utt_ids: set[str] = set()

    def add(self, key: str, speaker: str, score: float, where: str,
            a: STSUtterance, b: STSUtterance) -> None:
        if (key, speaker) in self._seen:
            raise LwaError(f"{where}: pair {key!r} read by speaker {speaker!r} appears twice")
        self._seen.add((key, speaker))
        first = self._scores.setdefault(key, (score, where))
        if first[0] != score:
            raise LwaError(
                f"{where}: pair {key!r} has similarity {score:g} but {first[0]:g} at "
                f"{first[1]}; one human score per pair must agree across its speakers"
            )
        for utt in (a, b):  # an utterance shared by several rows is listed once
            if utt.utt_id not in self._utt_ids:
                self._utt_ids.add(utt.utt_id)
                self.utterances.append(utt)
        self.pairs.append(STSPair(key, speaker, a.utt_id, b.utt_id, score))

    def result(self, source: str) -> STSData:
        if not self.pairs:
            raise LwaError(f"{source} holds no spoken STS rows")
        return STSData(self.utterances, self.pairs)


# --------------------------------------------------------------------------- parquet


def _decode_audio(audio: Any, where: str) -> NDArray[np.float32]:
    """A dataset audio struct as mono float32 at 16 kHz."""
    if not isinstance(audio, dict):
        raise LwaError(f"{where}: audio is {type(audio).__name__}, expected a struct")
    raw, array, sr = audio.get("bytes"), audio.get("array"), audio.get("sampling_rate")
    if raw is not None:
        try:
            wave, sr = sf.read(io.BytesIO(raw), dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError, TypeError) as exc:
            raise LwaError(f"{where}: cannot decode the audio bytes ({exc})") from exc
        if wave.shape[1] != 1:
            raise LwaError(f"{where}: audio has {wave.shape[1]} channels; lwa needs mono")
        wave = wave[:, 0]
    elif array is not None:
        wave = np.asarray(array, dtype=np.float32)
        if wave.ndim != 1:
            raise LwaError(f"{where}: audio array has shape {wave.shape}; lwa needs mono")
        if not sr or int(sr) <= 0:
            raise LwaError(f"{where}: audio array without a valid sampling_rate ({sr!r})")
    else:
        raise LwaError(f"{where}: audio struct has neither 'bytes' nor 'array'")
    if wave.size == 0:
        raise LwaError(f"{where}: audio has no samples")
    return resample(wave, int(sr), TARGET_SR)


def _parquet_files(source: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            files = sorted(path.rglob("*.parquet"))
            if not files:
                raise LwaError(f"no *.parquet files under {path}")
            return files
        items: Iterable[str | Path] = [path]
    else:
        items = source
    files = [Path(p) for p in items]
    for f in files:
        if not f.is_file():
            raise LwaError(f"parquet file not found: {f}")
    return files


def iter_sts_parquet(
    source: str | Path | Sequence[str | Path], *, batch_rows: int = 16
) -> Iterator[tuple[str, str, str, float, str, NDArray[np.float32], NDArray[np.float32]]]:
    """Stream rows ``(key, speaker, utt_prefix, similarity, where, wave_a, wave_b)`` from the
    dataset's parquet shards (a directory is searched recursively, shards in sorted order),
    a batch of ``batch_rows`` rows in memory at a time."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise LwaError("reading parquet needs pyarrow: pip install pyarrow") from exc
    for path in _parquet_files(source):
        try:
            shard = pq.ParquetFile(path)
        except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
            raise LwaError(f"cannot read parquet file {path} ({exc})") from exc
        missing = [c for c in PARQUET_COLUMNS if c not in shard.schema_arrow.names]
        if missing:
            raise LwaError(f"{path} lacks the spoken STS column(s) {', '.join(missing)}")
        row = 0
        for batch in shard.iter_batches(batch_size=batch_rows, columns=list(PARQUET_COLUMNS)):
            for rec in batch.to_pylist():
                where = f"{path} row {row}"
                row += 1
                key = f"{rec['task']}_{rec['subtask']}_{rec['pair_id']}"
                speaker = str(rec["speaker_id"])
                yield (
                    key,
                    speaker,
                    f"{key}_{speaker}",
                    _score(rec["similarity"], where),
                    where,
                    _decode_audio(rec["audio_a"], f"{where} (audio_a)"),
                    _decode_audio(rec["audio_b"], f"{where} (audio_b)"),
                )


def read_sts_parquet(
    source: str | Path | Sequence[str | Path], *, audio_dir: str | Path | None = None
) -> STSData:
    """Read the ``juice500/spoken_sts`` parquet shards offline.

    Parameters
    ----------
    source : path or paths
        A directory (searched recursively for ``*.parquet``), one file, or a list of files.
    audio_dir : path, optional
        Write every utterance as ``audio_dir/<utt_id>.wav`` (16 kHz float WAV) and return
        paths instead of waveforms, so memory stays at one batch.

    Raises
    ------
    LwaError
        Missing files or columns, undecodable audio, a repeated (pair, speaker) row, or a
        pair whose speakers disagree on the human score (the message names the pair).
    """
    out_dir = Path(audio_dir) if audio_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    rows = _Collector()
    for key, speaker, prefix, score, where, wave_a, wave_b in iter_sts_parquet(source):
        utts = []
        for sfx, wave in (("a", wave_a), ("b", wave_b)):
            utt_id = f"{prefix}_{sfx}"
            if out_dir is None:
                utts.append(STSUtterance(utt_id, speaker, waveform=wave))
            else:
                path = out_dir / f"{utt_id}.wav"
                sf.write(str(path), wave, TARGET_SR, subtype="FLOAT")
                utts.append(STSUtterance(utt_id, speaker, path=path))
        rows.add(key, speaker, score, where, utts[0], utts[1])
    return rows.result(str(source))


# --------------------------------------------------------------------------- manifest


def read_sts_manifest(manifest: str | Path, *, load: bool = False) -> STSData:
    """Read a TSV manifest of spoken STS rows; audio paths relative to the manifest.

    Parameters
    ----------
    manifest : path
        Tab-separated file with a header (see the module docstring).
    load : bool
        Also read every waveform (mono float32, resampled to 16 kHz).

    Raises
    ------
    LwaError
        Unreadable manifest, a missing column, a malformed line (``file:line``), a missing
        audio file (named), a repeated (pair, speaker), or disagreeing scores of one pair.
    """
    path = Path(manifest)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LwaError(f"STS manifest {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LwaError(f"cannot read STS manifest {path} as UTF-8 text ({exc})") from None
    numbered = [(i, ln) for i, ln in enumerate(lines, start=1) if ln.strip()]
    if not numbered:
        raise LwaError(f"STS manifest {path} is empty")
    header = [h.strip() for h in numbered[0][1].split("\t")]
    missing = [c for c in MANIFEST_COLUMNS if c not in header]
    if missing:
        raise LwaError(
            f"{path}:{numbered[0][0]}: header lacks column(s) {', '.join(missing)}; "
            f"expected tab-separated {', '.join(MANIFEST_COLUMNS)}"
        )
    col = {c: header.index(c) for c in MANIFEST_COLUMNS}
    rows = _Collector()
    by_file: dict[Path, STSUtterance] = {}
    for line_no, line in numbered[1:]:
        where = f"{path}:{line_no}"
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) != len(header):
            raise LwaError(f"{where}: {len(fields)} fields, the header has {len(header)}")
        key, speaker = fields[col["pair_id"]], fields[col["speaker_id"]]
        if not key or not speaker:
            raise LwaError(f"{where}: empty pair_id or speaker_id")
        utts = []
        for sfx in ("a", "b"):
            audio = path.parent / fields[col[f"audio_{sfx}"]]
            if not audio.is_file():
                raise LwaError(f"{where}: audio file not found: {audio}")
            known = by_file.get(audio.resolve())
            if known is None:
                wave = load_audio(audio) if load else None
                known = STSUtterance(f"{key}_{speaker}_{sfx}", speaker, audio, wave)
                by_file[audio.resolve()] = known
            utts.append(known)
        rows.add(key, speaker, _score(fields[col["similarity"]], where), where, *utts)
    return rows.result(str(path))


def read_sts(source: str | Path, *, load: bool = True) -> STSData:
    """Spoken STS from a ``.tsv`` manifest, or from parquet (a ``.parquet`` file or a
    directory of shards); parquet audio always comes back as waveforms."""
    path = Path(source)
    if path.suffix.lower() in (".tsv", ".txt"):
        return read_sts_manifest(path, load=load)
    if path.is_dir() or path.suffix.lower() == ".parquet":
        return read_sts_parquet(path)
    raise LwaError(f"{path}: expected a .tsv manifest, a .parquet file or a directory of shards")
