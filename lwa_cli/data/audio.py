"""Reading audio for the models: mono float32 at 16 kHz (SPEC §4, "Input audio")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from numpy.typing import ArrayLike, NDArray

from lwa_cli.errors import LwaError

TARGET_SR = 16000
#: fairseq/unilm ``task.normalize`` applies ``F.layer_norm`` to the whole waveform (eps 1e-5);
#: Hugging Face ``do_normalize`` uses 1e-7.
LAYER_NORM_EPS = 1e-5


def _header(path: Path) -> tuple[int, int, int]:
    """``(channels, sample rate, frames)`` from an audio file's header, or an LwaError."""
    if not path.is_file():
        raise LwaError(f"audio file not found: {path}; check the corpus root and the split name")
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, OSError) as exc:
        raise LwaError(
            f"cannot read audio file {path} ({exc}); it is corrupt or not FLAC/WAV, replace it"
        ) from exc
    return info.channels, info.samplerate, info.frames


def audio_duration(path: str | Path) -> float:
    """Duration in seconds, read from the file header without decoding the samples.

    Raises
    ------
    LwaError
        If the file is missing or unreadable.
    """
    p = Path(path)
    _, samplerate, frames = _header(p)
    if samplerate <= 0:
        raise LwaError(f"audio file {p} declares an invalid sample rate ({samplerate} Hz)")
    return frames / samplerate


def load_audio(path: str | Path, target_sr: int = TARGET_SR) -> NDArray[np.float32]:
    """Read a mono FLAC/WAV file as float32 samples at ``target_sr``.

    Other sample rates are resampled with soxr (high quality).

    Returns
    -------
    ndarray of float32, shape (n_samples,)

    Raises
    ------
    LwaError
        If the file is missing, unreadable, empty or has more than one channel.
    """
    p = Path(path)
    if not p.is_file():
        raise LwaError(f"audio file not found: {p}; check the corpus root and the split name")
    try:  # one open for the header and the samples (a second open costs ~0.4 ms per file)
        with sf.SoundFile(str(p)) as f:
            if f.channels != 1:
                raise LwaError(
                    f"audio file {p} has {f.channels} channels; lwa needs mono audio, "
                    "convert it to one channel first"
                )
            sr = f.samplerate
            wave = f.read(dtype="float32")
    except (sf.SoundFileError, OSError, RuntimeError) as exc:
        raise LwaError(f"cannot decode audio file {p} ({exc}); it is corrupt or not FLAC/WAV, "
                       "replace it") from exc
    if wave.size == 0:
        raise LwaError(f"audio file {p} has no samples; remove it from the corpus or replace it")
    return resample(wave, sr, target_sr)


def resample(wave: ArrayLike, sr: int, target_sr: int = TARGET_SR) -> NDArray[np.float32]:
    """Mono samples at ``sr`` as float32 at ``target_sr`` (soxr, high quality; a copy only
    when the rate differs or the input is not contiguous float32)."""
    x = np.asarray(wave, dtype=np.float32)
    if sr != target_sr:
        x = soxr.resample(x, sr, target_sr, quality="HQ")
    return np.ascontiguousarray(x, dtype=np.float32)


def standardize(
    wave: ArrayLike, *, eps: float = LAYER_NORM_EPS, source: str | Path | None = None
) -> NDArray[np.float32]:
    """Zero-mean, unit-variance waveform, as a checkpoint with ``normalize`` expects.

    Computes ``(x - mean) / sqrt(var + eps)`` over the whole waveform (population variance,
    float64 internally), which is ``F.layer_norm(x, x.shape)`` for the default ``eps``.

    Parameters
    ----------
    wave : array_like, shape (n_samples,)
    eps : float
        Added to the variance: 1e-5 for fairseq/unilm checkpoints, 1e-7 for Hugging Face.
    source : str or Path, optional
        File the waveform came from, named in the error message.

    Raises
    ------
    LwaError
        If the waveform is empty, not finite or constant (nothing to standardise).
    """
    x = np.asarray(wave, dtype=np.float64)
    where = f" from {source}" if source is not None else ""
    if x.size == 0:
        raise LwaError(f"cannot standardise an empty waveform{where}")
    if not np.all(np.isfinite(x)):
        raise LwaError(f"the waveform{where} has NaN or infinite samples; replace the file")
    mean = x.mean()
    var = np.mean((x - mean) ** 2)
    if var == 0:
        raise LwaError(
            f"the waveform{where} is constant (every sample is {x.flat[0]:g}); "
            "it holds no speech, remove it from the sample"
        )
    return ((x - mean) / np.sqrt(var + eps)).astype(np.float32)
