"""Log mel filterbank energies and frame stacking: the AV-HuBERT audio front end.

AV-HuBERT's audio input (as the reference feeds it) is `log_fbank` of the waveform — the
definition of ``python_speech_features.logfbank`` with its defaults: pre-emphasis 0.97,
25 ms rectangular windows every 10 ms (the last one zero-padded to full length), a 512-point
power spectrum divided by 512, 26 triangular mel filters from 0 Hz to Nyquist whose edges
are FFT bins ``floor(513 * hz / sr)``, zero energies floored at float64 eps, natural log —
then `stack_frames` with 4 frames (40 ms, zero-padded at the end).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

PREEMPHASIS = 0.97
WIN_S = 0.025
HOP_S = 0.01
N_FFT = 512
N_FILTERS = 26


def _round_half_up(x: float) -> int:
    """Round .5 up (not to even), as the frame lengths are defined."""
    return int(np.floor(x + 0.5))


def hz_to_mel(hz: ArrayLike) -> NDArray[np.float64]:
    """HTK mel scale: ``2595 log10(1 + hz / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: ArrayLike) -> NDArray[np.float64]:
    """Inverse of `hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filters(sr: int, n_filters: int = N_FILTERS, n_fft: int = N_FFT) -> NDArray[np.float64]:
    """Triangular filters (n_filters, n_fft // 2 + 1) on FFT-bin edges, 0 Hz to sr / 2.

    Filter j rises linearly from edge j (weight 0) to edge j + 1 (weight 1) and falls to
    edge j + 2, with edges ``floor((n_fft + 1) * mel_to_hz(m) / sr)`` for mel points m
    evenly spaced over the range.
    """
    mels = np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_filters + 2)
    edges = np.floor((n_fft + 1) * mel_to_hz(mels) / sr).astype(np.int64)
    bins = np.arange(n_fft // 2 + 1)[None, :]
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = np.where((bins >= lo) & (bins < mid), (bins - lo) / (mid - lo), 0.0)
        fall = np.where((bins >= mid) & (bins < hi), (hi - bins) / (hi - mid), 0.0)
    return rise + fall


def frame_count(n_samples: int, sr: int) -> int:
    """Number of filterbank frames of a waveform (at least one; the last one padded)."""
    win, hop = _round_half_up(WIN_S * sr), _round_half_up(HOP_S * sr)
    if n_samples <= win:
        return 1
    return 1 + int(np.ceil((n_samples - win) / hop))


def log_fbank(wave: ArrayLike, sr: int = 16000) -> NDArray[np.float64]:
    """Log mel filterbank energies (n_frames, 26) of a mono waveform, in float64.

    Parameters
    ----------
    wave : array_like, shape (n_samples,)
        Mono waveform (any float scale; AV-HuBERT's reference feeds floats in [-1, 1]).
    sr : int
        Sample rate in Hz (16000 for every registered model).

    Returns
    -------
    ndarray of float64, shape (`frame_count`, 26)
    """
    x = np.asarray(wave, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"log_fbank expects a non-empty 1-D waveform, got shape {x.shape}")
    win, hop = _round_half_up(WIN_S * sr), _round_half_up(HOP_S * sr)
    emphasised = np.concatenate([x[:1], x[1:] - PREEMPHASIS * x[:-1]])
    n = frame_count(x.size, sr)
    padded = np.zeros((n - 1) * hop + win)
    padded[: x.size] = emphasised
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop]
    power = np.abs(np.fft.rfft(frames, N_FFT)) ** 2 / N_FFT
    energies = power @ mel_filters(sr).T
    energies = np.where(energies == 0.0, np.finfo(np.float64).eps, energies)
    return np.log(energies)


def stack_frames(features: ArrayLike, k: int) -> NDArray:
    """Concatenate every ``k`` consecutive frames: (T, F) -> (ceil(T / k), k * F).

    The frames are zero-padded at the end to a multiple of ``k``; output frame i is frames
    ``k*i .. k*i + k - 1`` side by side (frame-major), in the input dtype.
    """
    x = np.asarray(features)
    if x.ndim != 2 or k < 1:
        raise ValueError(f"stack_frames expects (frames, dims) and k >= 1, got {x.shape}, {k}")
    pad = (-x.shape[0]) % k
    if pad:
        x = np.concatenate([x, np.zeros((pad, x.shape[1]), dtype=x.dtype)])
    return x.reshape(-1, k * x.shape[1])


def subsample_frames(features: ArrayLike, factor: int) -> NDArray:
    """Every ``factor``-th frame (kernel 1, stride ``factor``), starting with the first.

    Pairs 10 ms features (the log-mel) with a model's frames: factor 2 for 20 ms models,
    4 for AV-HuBERT's 40 ms frames, as the reference downsamples its mel for ``cca mel``.
    """
    x = np.asarray(features)
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    return x[::factor]
