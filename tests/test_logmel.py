"""Log-mel features against golden/logmel.npz."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lwa_cli.errors import LwaError
from lwa_cli.features.logmel import log_mel

SIGNALS = {
    "chirp_1p37s": 138,
    "harmonic_gap_2p0s": 201,
    "bursts_clicks_0p51s": 52,
    "tone_0p1s": 11,
}


@pytest.fixture(scope="module")
def golden(golden_dir):
    with np.load(golden_dir / "logmel.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_matches_reference(golden, name):
    wav = golden[f"{name}__wav"]
    want = golden[f"{name}__logmel"].T  # golden is [80, n_frames]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # short signals must not warn either
        got = log_mel(wav)
    assert got.dtype == np.float64
    assert got.shape == (SIGNALS[name], 80) == (1 + wav.size // 160, 80)
    # Measured: max abs diff 2.6e-14 (chirp), 5.6e-16, 2.7e-15, 1.1e-14 (tone).
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_edge_frames_use_zero_padding(golden):
    # 'reflect' padding would move frames 0, 1, -2, -1 by up to 0.31 on this signal.
    got = log_mel(golden["chirp_1p37s__wav"])
    want = golden["chirp_1p37s__logmel"].T
    np.testing.assert_allclose(got[[0, 1, -2, -1]], want[[0, 1, -2, -1]], rtol=0, atol=1e-12)


def test_top_db_floor_and_peak_scale(golden):
    wav = golden["harmonic_gap_2p0s__wav"]
    got = log_mel(wav)
    # top_db=80 clips at 80 dB below the maximum: after /80 the range is exactly 1.
    assert got.max() - got.min() == pytest.approx(1.0, abs=1e-12)
    # Peak normalisation makes the features independent of the input gain.
    np.testing.assert_allclose(log_mel(wav * np.float32(0.25)), got, rtol=0, atol=1e-5)


def test_float64_input_is_cast_to_float32(golden):
    wav = golden["tone_0p1s__wav"]
    np.testing.assert_array_equal(log_mel(wav.astype(np.float64)), log_mel(wav))


@pytest.mark.parametrize(
    ("wave", "message"),
    [
        (np.zeros(0, dtype=np.float32), "empty"),
        (np.zeros(1600, dtype=np.float32), "silent"),
        (np.array([0.1, np.nan, 0.2], dtype=np.float32), "NaN"),
    ],
)
def test_bad_waveforms_refused(wave, message):
    with pytest.raises(LwaError, match=message):
        log_mel(wave)


def test_wrong_shape_or_rate_refused():
    with pytest.raises(ValueError, match="1-D"):
        log_mel(np.ones((2, 1600), dtype=np.float32))
    with pytest.raises(ValueError, match="16000"):
        log_mel(np.ones(1600, dtype=np.float32), sr=8000)
