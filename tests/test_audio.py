"""Audio loading, resampling, duration and standardisation."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from lwa_cli.data.audio import audio_duration, load_audio, standardize
from lwa_cli.errors import LwaError


def tone(sr: int, seconds: float, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    """A 0.5-amplitude sine, duplicated over channels."""
    t = np.arange(int(round(sr * seconds))) / sr
    x = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def peak_hz(x: np.ndarray, sr: int) -> float:
    """Frequency of the largest spectral peak."""
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / sr)[np.argmax(spec)])


def test_16k_flac_read_exactly(tmp_path):
    ints = np.random.default_rng(0).integers(-20000, 20000, 16000, dtype=np.int16)
    path = tmp_path / "a.flac"
    sf.write(path, ints, 16000, subtype="PCM_16")
    got = load_audio(path)
    assert got.dtype == np.float32 and got.shape == (16000,)
    np.testing.assert_array_equal(got, ints.astype(np.float32) / 32768)


@pytest.mark.parametrize(
    ("sr", "seconds"), [(8000, 1.0), (44100, 1.0), (22050, 0.7531), (48000, 2)]
)
def test_resampled_to_16k(tmp_path, sr, seconds):
    path = tmp_path / f"x_{sr}.wav"
    sf.write(path, tone(sr, seconds), sr, subtype="FLOAT")
    got = load_audio(path)
    n_in = int(round(sr * seconds))
    assert got.dtype == np.float32
    assert got.shape == (round(n_in * 16000 / sr),)
    assert peak_hz(got, 16000) == pytest.approx(440.0, abs=2.0)
    # Amplitude survives resampling (away from the filter's edge transients).
    assert np.abs(got[2000:-2000]).max() == pytest.approx(0.5, abs=0.01)


def test_other_target_rate(tmp_path):
    path = tmp_path / "x.wav"
    sf.write(path, tone(16000, 1.0), 16000)
    assert load_audio(path, target_sr=8000).shape == (8000,)


def test_multichannel_refused(tmp_path):
    path = tmp_path / "stereo.flac"
    sf.write(path, tone(16000, 0.5, channels=2), 16000)
    with pytest.raises(LwaError, match=r"has 2 channels") as info:
        load_audio(path)
    assert "stereo.flac" in str(info.value)


def test_missing_file_refused(tmp_path):
    path = tmp_path / "nope.flac"
    for func in (load_audio, audio_duration):
        with pytest.raises(LwaError, match="not found") as info:
            func(path)
        assert "nope.flac" in str(info.value)


def test_garbage_file_refused(tmp_path):
    path = tmp_path / "garbage.flac"
    path.write_bytes(b"not audio at all " * 50)
    for func in (load_audio, audio_duration):
        with pytest.raises(LwaError, match="garbage.flac"):
            func(path)


def test_truncated_flac_refused(tmp_path):
    good = tmp_path / "good.flac"
    sf.write(good, tone(16000, 1.0) + 0.01 * np.random.default_rng(1).normal(size=16000), 16000)
    data = good.read_bytes()
    bad = tmp_path / "cut.flac"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(LwaError, match="cut.flac"):
        load_audio(bad)


def test_empty_file_refused(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0), 16000)
    with pytest.raises(LwaError, match="no samples"):
        load_audio(path)
    assert audio_duration(path) == 0.0


def test_duration_from_header(tmp_path):
    path = tmp_path / "d.flac"
    sf.write(path, tone(44100, 1.5), 44100)
    assert audio_duration(path) == pytest.approx(1.5, abs=1e-12)
    path2 = tmp_path / "d2.wav"
    sf.write(path2, np.zeros(12345), 16000)
    assert audio_duration(str(path2)) == 12345 / 16000


def test_standardize_matches_layer_norm():
    x = (0.05 * np.random.default_rng(2).normal(size=32000) + 0.01).astype(np.float32)
    got = standardize(x)
    assert got.dtype == np.float32
    ref = F.layer_norm(torch.from_numpy(x)[None], (1, x.size)).numpy()[0]
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-5)
    assert abs(float(got.astype(np.float64).mean())) < 1e-6
    var = float(x.astype(np.float64).var())
    assert float(got.astype(np.float64).var()) == pytest.approx(var / (var + 1e-5), rel=1e-5)


def test_standardize_without_eps_is_unit_variance():
    x = np.random.default_rng(4).normal(3.0, 0.2, size=5000)
    got = standardize(x, eps=0.0).astype(np.float64)
    assert got.mean() == pytest.approx(0.0, abs=1e-6)
    assert got.std() == pytest.approx(1.0, abs=1e-6)


def test_standardize_refuses_constant_and_empty():
    with pytest.raises(LwaError, match=r"constant.*utt\.flac|utt\.flac.*constant"):
        standardize(np.full(100, 0.25, dtype=np.float32), source="utt.flac")
    with pytest.raises(LwaError, match="constant"):
        standardize(np.zeros(100))
    with pytest.raises(LwaError, match="empty"):
        standardize(np.zeros(0))
    with pytest.raises(LwaError, match="NaN"):
        standardize(np.array([0.0, np.inf, 1.0]))
