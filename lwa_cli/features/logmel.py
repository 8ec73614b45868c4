"""Log-mel features of one utterance, as the reference computes them (SPEC §4, golden/logmel.npz).

Pipeline: peak-normalise to 0.999 (float32), pre-emphasis 0.97 (scipy ``lfilter``, float64),
magnitude mel spectrogram (n_fft 2048, Hann window 400 zero-padded to 2048, hop 160, 80 Slaney
mels from 50 Hz to 8 kHz, centred frames with zero padding), ``amplitude_to_db`` with ref 1,
amin 1e-5 and top_db 80, then ``/ 80 + 1``. Frames are 10 ms apart; there are
``1 + n_samples // 160`` of them.
"""

from __future__ import annotations

import warnings

import librosa
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lwa_cli.errors import LwaError

SAMPLE_RATE = 16000
PREEMPHASIS = 0.97
PEAK = 0.999
N_FFT = 2048
WIN_LENGTH = 400
HOP_LENGTH = 160
N_MELS = 80
FMIN = 50.0
FMAX = 8000.0
TOP_DB = 80.0
AMIN = 1e-5


def log_mel(wave: ArrayLike, sr: int = SAMPLE_RATE) -> NDArray[np.float64]:
    """Scaled log-mel spectrogram of a mono 16 kHz waveform.

    Parameters
    ----------
    wave : array_like, shape (n_samples,)
        Mono waveform; it is cast to float32 before peak normalisation, as in the reference.
    sr : int
        Sample rate; must be 16000 (the filter bank and frame rate assume it).

    Returns
    -------
    ndarray of float64, shape (1 + n_samples // 160, 80)
        Frames by mel bins; values are ``dB / 80 + 1`` (at most 80 dB below the peak).

    Raises
    ------
    LwaError
        If the waveform is empty, silent (all zeros) or not finite.
    """
    if sr != SAMPLE_RATE:
        raise ValueError(f"log_mel expects {SAMPLE_RATE} Hz audio, got {sr} Hz; resample first")
    x = np.asarray(wave, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"log_mel expects a 1-D waveform, got shape {x.shape}")
    if x.size == 0:
        raise LwaError("cannot compute log-mel features of an empty waveform (0 samples)")
    if not np.all(np.isfinite(x)):
        raise LwaError("cannot compute log-mel features: the waveform has NaN or infinite samples")
    peak = np.max(np.abs(x))
    if peak == 0:
        raise LwaError("cannot compute log-mel features of a silent waveform (all samples zero)")
    # Same operation order and dtype as the reference: float32 division, then float32 scaling.
    x = x / peak * np.float32(PEAK)
    from scipy.signal import lfilter  # ~0.5 s to import: only where a log-mel is made

    emphasised = lfilter([1.0, -PREEMPHASIS], [1.0], x)
    with warnings.catch_warnings():
        # Utterances shorter than n_fft are valid (centring pads them); librosa warns anyway.
        warnings.filterwarnings("ignore", message="n_fft=.*is too large", category=UserWarning)
        mel = librosa.feature.melspectrogram(
            y=emphasised,
            sr=SAMPLE_RATE,
            n_fft=N_FFT,
            hop_length=HOP_LENGTH,
            win_length=WIN_LENGTH,
            window="hann",
            center=True,
            # Explicit: 'reflect' (an older librosa default) changes the first/last two frames.
            pad_mode="constant",
            power=1.0,
            n_mels=N_MELS,
            fmin=FMIN,
            fmax=FMAX,
            htk=False,
            norm="slaney",
            dtype=np.float32,
        )
    db = librosa.amplitude_to_db(mel, ref=1.0, amin=AMIN, top_db=TOP_DB)
    return np.ascontiguousarray((db / TOP_DB + 1.0).T, dtype=np.float64)
