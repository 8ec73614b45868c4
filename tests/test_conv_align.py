"""Conv-layer box averaging and mel alignment against golden/transform_rep.npz."""

from __future__ import annotations

import numpy as np
import pytest

from lwa_cli.features.conv_align import (
    CONV_ALIGNMENT,
    align_local,
    box_average,
    box_length,
    mel_for_layer,
)

# wav2vec 2.0 / HuBERT / WavLM feature encoder: (kernel, stride) of the 7 conv blocks.
CONV_STACK = [(10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2)]


def conv_lengths(n_samples: int) -> list[int]:
    """Frames after each conv block for a waveform of n_samples."""
    lengths, n = [], n_samples
    for kernel, stride in CONV_STACK:
        n = (n - kernel) // stride + 1
        lengths.append(n)
    return lengths


@pytest.fixture(scope="module")
def golden(golden_dir):
    with np.load(golden_dir / "transform_rep.npz") as data:
        return {k: data[k] for k in data.files}


def test_alignment_table_matches_reference(golden):
    for layer in range(1, 8):
        assert CONV_ALIGNMENT[f"C{layer}"] == tuple(golden[f"layer{layer}_kernel_stride"])
    assert tuple(golden["fbank_kernel_stride"]) == (1, 2)


@pytest.mark.parametrize("layer", range(1, 8))
def test_box_average_matches_reference(golden, layer):
    x = golden[f"layer{layer}_input"][0].T  # [1, C, T] -> (T, C)
    want = golden[f"layer{layer}_output"]
    kernel, stride = (int(v) for v in golden[f"layer{layer}_kernel_stride"])
    got = box_average(x, kernel, stride)
    assert got.dtype == np.float32
    assert got.shape == want.shape == (box_length(x.shape[0], kernel, stride), 8)
    # Float32 conv1d as in the reference: bit-identical on the CPU (measured max diff 0);
    # the tolerance allows another summation order (about 1e-7 relative).
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-7 * np.abs(want).max())


def test_fbank_downsampling_matches_reference(golden):
    want = golden["fbank_output"]
    got = box_average(golden["fbank_input"][0].T, 1, 2)
    np.testing.assert_array_equal(got, want)
    # The same through mel_for_layer, for C7 and a transformer layer.
    mel = golden["fbank_input"][0].T.astype(np.float64)
    np.testing.assert_array_equal(mel_for_layer("C7", mel, 69), want)
    np.testing.assert_array_equal(mel_for_layer("T3", mel, 60), want[:60])


def test_box_average_is_window_mean():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(203, 5)).astype(np.float32)
    for kernel, stride in [(79, 32), (4, 2), (2, 1), (1, 2), (7, 3), (203, 1)]:
        got = box_average(x, kernel, stride)
        n = (203 - kernel) // stride + 1
        want = np.stack([x[j * stride : j * stride + kernel].mean(0) for j in range(n)])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_box_average_shorter_than_kernel_is_empty():
    got = box_average(np.ones((8, 3), dtype=np.float32), 9, 4)
    assert got.shape == (0, 3) and got.dtype == np.float32
    assert box_length(0, 79, 32) == 0


def test_box_average_refuses_bad_arguments():
    with pytest.raises(ValueError, match="2-D"):
        box_average(np.ones(10), 2, 1)
    with pytest.raises(ValueError, match=">= 1"):
        box_average(np.ones((10, 2)), 0, 1)


def test_align_one_second(golden):
    # 1 s of audio: C1..C7 have 3199, 1599, 799, 399, 199, 99, 49 frames; mel has 101.
    mel = np.random.default_rng(5).normal(size=(101, 80))
    for layer in range(1, 7):
        conv_out = golden[f"layer{layer}_input"][0].T
        feats, mel_al = align_local(f"C{layer}", conv_out, mel)
        np.testing.assert_array_equal(feats, golden[f"layer{layer}_output"])
        np.testing.assert_array_equal(mel_al, mel[:98])
    feats, mel_al = align_local("C7", golden["layer7_input"][0].T, mel)
    assert feats.shape == (49, 8) and mel_al.shape == (49, 80)
    np.testing.assert_array_equal(feats, golden["layer7_input"][0].T)
    np.testing.assert_array_equal(mel_al, mel[0:98:2].astype(np.float32))
    feats, mel_al = align_local("T12", np.ones((49, 768), dtype=np.float32), mel)
    assert feats.shape == (49, 768) and mel_al.shape == (49, 80)


def test_features_are_never_cut_for_real_lengths():
    # For any waveform length, the aligned mel is at least as long as the layer's frames,
    # so only the mel is truncated (the reference asserts this too).
    for n_samples in range(400, 48000, 997):
        n_mel = 1 + n_samples // 160
        mel = np.zeros((n_mel, 80))
        for layer, t_l in zip(CONV_ALIGNMENT, conv_lengths(n_samples), strict=True):
            feats, mel_al = align_local(layer, np.zeros((t_l, 2), dtype=np.float32), mel)
            kernel, stride = CONV_ALIGNMENT[layer]
            expected = box_length(t_l, kernel, stride) if layer != "C7" else t_l
            assert feats.shape[0] == mel_al.shape[0] == expected


def test_mel_for_layer_truncates_conv_layers():
    mel = np.arange(101 * 80, dtype=np.float64).reshape(101, 80)
    got = mel_for_layer("C3", mel, 799)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, mel[:98])


@pytest.mark.parametrize("layer", ["C0", "C8", "T", "t3", "L1", 3])
def test_unknown_layer_refused(layer):
    with pytest.raises(ValueError, match="unknown layer"):
        mel_for_layer(layer, np.zeros((10, 80)), 5)
    with pytest.raises(ValueError, match="unknown layer"):
        align_local(layer, np.zeros((10, 4)), np.zeros((10, 80)))
