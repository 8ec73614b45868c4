"""Layer capture: agreement with a direct transformers forward and with hand computation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lwa_cli.demo.models import build_model, tiny_spec
from lwa_cli.errors import LwaError, LwaUsageError
from lwa_cli.models.capture import extract_layers
from lwa_cli.models.loading import LoadedModel
from lwa_cli.models.registry import spec_from_hf_config

FAMILIES = {
    "wav2vec2_group": dict(family="wav2vec2", n_layers=3),
    "wav2vec2_large_style": dict(family="wav2vec2", n_layers=3, pre_ln=True, conv_norm="layer",
                                 conv_bias=True),
    "hubert": dict(family="hubert", n_layers=2),
    "wavlm": dict(family="wavlm", n_layers=2),
    "wavlm_large_style": dict(family="wavlm", n_layers=2, pre_ln=True, conv_norm="layer"),
    "data2vec": dict(family="data2vec", n_layers=2),
}


def make_loaded(key: str, *, seed: int = 0, normalize: bool = False) -> LoadedModel:
    """A tiny model of one family wrapped as a LoadedModel (eval, CPU)."""
    kwargs = dict(FAMILIES[key])
    spec = tiny_spec(key, kwargs.pop("family"), normalize=normalize, **kwargs)
    module = build_model(spec, seed)
    module.requires_grad_(False)
    spec = spec_from_hf_config(module.config, name=key, normalize_input=normalize)
    return LoadedModel(
        name=key, spec=spec, module=module, normalize_input=normalize, fingerprint="test",
        checkpoint="test", n_conv=spec.n_conv, n_layers=spec.n_layers,
        device=torch.device("cpu"), source="test",
    )


def wave(n: int = 9600, seed: int = 0) -> np.ndarray:
    """A deterministic test waveform (noise plus a tone, not zero-mean, not unit variance)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    return (0.05 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * 220 * t) + 0.02).astype(
        np.float32
    )


def hf_hidden_states(loaded: LoadedModel, x: np.ndarray):
    """transformers' own hidden_states and last_hidden_state for one waveform."""
    with torch.inference_mode():
        out = loaded.module(input_values=torch.from_numpy(x)[None], output_hidden_states=True)
    return [h[0].numpy() for h in out.hidden_states], out.last_hidden_state[0].numpy()


@pytest.mark.parametrize("key", list(FAMILIES))
def test_transformer_layers_equal_a_direct_transformers_forward(key):
    loaded = make_loaded(key)
    x = wave()
    got = extract_layers(loaded, x, ["T"])
    hidden, last = hf_hidden_states(loaded, x)
    n = loaded.n_layers
    assert list(got) == [f"T{i}" for i in range(n + 1)]
    assert len(hidden) == n + 1
    assert got["T0"].shape == (loaded.spec.n_frames(x.size), 32)
    assert got["T0"].dtype == np.float32
    for i in range(n):  # entries 0..L-1 are the same in every transformers version
        np.testing.assert_allclose(got[f"T{i}"], hidden[i], atol=1e-5, rtol=0)
    if not loaded.spec.pre_ln:
        np.testing.assert_allclose(got[f"T{n}"], hidden[n], atol=1e-5, rtol=0)
        np.testing.assert_allclose(got[f"T{n}"], last, atol=1e-5, rtol=0)
    # layers differ from each other: the comparison above is not vacuous
    assert not np.allclose(got["T0"], got[f"T{n}"], atol=1e-3)


@pytest.mark.parametrize("key", ["wav2vec2_large_style", "wavlm_large_style"])
def test_last_layer_of_pre_ln_models_is_raw(key):
    loaded = make_loaded(key)
    x = wave()
    got = extract_layers(loaded, x, ["all"])
    hidden, last = hf_hidden_states(loaded, x)
    n = loaded.n_layers
    raw = torch.from_numpy(got[f"T{n}"])
    encoder = loaded.module.encoder
    with torch.inference_mode():
        normed = encoder.layer_norm(raw).numpy()
    # the model's output is the final layer norm of TL, and TL itself is not normalised
    np.testing.assert_allclose(normed, last, atol=1e-5, rtol=0)
    assert np.abs(got[f"T{n}"] - last).max() > 1e-2
    if loaded.spec.family == "wav2vec2":
        # TL is the last encoder layer applied to T(L-1), run by hand
        with torch.inference_mode():
            out = encoder.layers[-1](torch.from_numpy(hidden[n - 1])[None])
        out = out[0] if isinstance(out, tuple) else out
        np.testing.assert_allclose(got[f"T{n}"], out[0].numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("key", ["wav2vec2_group", "wav2vec2_large_style", "data2vec"])
def test_conv_layers_equal_the_conv_stack_run_by_hand(key):
    loaded = make_loaded(key)
    x = wave()
    got = extract_layers(loaded, x, ["C"])
    h = torch.from_numpy(x)[None, None].double()
    for i, block in enumerate(loaded.module.feature_extractor.conv_layers):
        conv = block.conv
        bias = None if conv.bias is None else conv.bias.double()
        h = F.conv1d(h, conv.weight.double(), bias, stride=conv.stride)
        norm = getattr(block, "layer_norm", None)
        if loaded.spec.conv_norm == "group" and i == 0:
            h = F.group_norm(h, h.shape[1], norm.weight.double(), norm.bias.double(), eps=1e-5)
        elif loaded.spec.conv_norm == "layer":
            h = F.layer_norm(
                h.transpose(1, 2), (h.shape[1],), norm.weight.double(), norm.bias.double(), 1e-5
            ).transpose(1, 2)
        h = F.gelu(h)
        expected = h[0].T.numpy()
        assert got[f"C{i + 1}"].shape == expected.shape
        np.testing.assert_allclose(got[f"C{i + 1}"], expected, atol=1e-5, rtol=1e-5)
    assert got["C7"].shape[0] == loaded.spec.n_frames(x.size)


def test_normalised_input_is_the_standardised_waveform():
    x = wave()
    with_norm = make_loaded("hubert", normalize=True)
    without = make_loaded("hubert", normalize=False)
    x64 = x.astype(np.float64)
    standardised = ((x64 - x64.mean()) / np.sqrt(x64.var() + 1e-5)).astype(np.float32)
    a = extract_layers(with_norm, x, ["C1", "T2"])
    b = extract_layers(without, standardised, ["C1", "T2"])
    c = extract_layers(without, x, ["C1", "T2"])
    for layer in ("C1", "T2"):
        np.testing.assert_allclose(a[layer], b[layer], atol=1e-4, rtol=1e-4)
    assert not np.allclose(a["T2"], c["T2"], atol=1e-3)


def test_results_do_not_depend_on_other_utterances():
    loaded = make_loaded("wavlm")
    a, b = wave(8000, seed=1), wave(20000, seed=2)
    first = extract_layers(loaded, a, ["all"])
    extract_layers(loaded, b, ["all"])
    again = extract_layers(loaded, a, ["all"])
    fresh = extract_layers(make_loaded("wavlm"), a, ["all"])
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
        np.testing.assert_array_equal(first[name], fresh[name])
    # a prefix of a longer utterance is a different input: the frames differ
    longer = extract_layers(loaded, np.concatenate([a, b]), ["T2"])
    assert longer["T2"].shape[0] > first["T2"].shape[0]


def test_forward_stops_after_the_deepest_requested_layer():
    loaded = make_loaded("wav2vec2_group")
    calls: list[int] = []
    hooks = [
        layer.register_forward_hook(lambda _m, _a, _o, i=i: calls.append(i))
        for i, layer in enumerate(loaded.module.encoder.layers)
    ]
    try:
        out = extract_layers(loaded, wave(), ["C2", "C4"])
        assert calls == [] and list(out) == ["C2", "C4"]
        extract_layers(loaded, wave(), ["T0"])
        assert calls == []
        extract_layers(loaded, wave(), ["T1"])
        assert calls == [0]
    finally:
        for hook in hooks:
            hook.remove()


def test_hooks_are_removed_even_after_errors():
    loaded = make_loaded("hubert")
    modules = list(loaded.module.modules())
    before = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in modules)
    extract_layers(loaded, wave(), ["all"])
    with pytest.raises(LwaError):
        extract_layers(loaded, wave()[:100], ["all"])
    after = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in modules)
    assert before == after


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (np.zeros((2, 8000), np.float32), "mono"),
        (np.zeros(399, np.float32), "shorter than one model frame"),
        (np.array([0.1] * 500 + [np.nan] * 10, np.float32), "NaN"),
        (np.zeros(8000, np.int16), "float"),
    ],
)
def test_bad_waveforms_are_clear_errors(bad, fragment):
    with pytest.raises(LwaError, match=fragment):
        extract_layers(make_loaded("hubert"), bad, ["T1"])


def test_unknown_layer_is_a_usage_error():
    loaded = make_loaded("hubert")
    with pytest.raises(LwaUsageError, match="T0-T2"):
        extract_layers(loaded, wave(), ["T3"])


def test_shortest_waveform_gives_one_frame_and_constant_input_is_finite():
    loaded = make_loaded("data2vec", normalize=True)
    out = extract_layers(loaded, np.full(400, 0.5, np.float32), ["C7", "T2"])
    assert out["C7"].shape == (1, 32) and out["T2"].shape == (1, 32)
    assert np.isfinite(out["T2"]).all()
    spec = replace(loaded.spec, name="x")
    assert spec.n_frames(400) == 1
