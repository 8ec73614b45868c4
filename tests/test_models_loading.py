"""Checkpoint loading: HF directories, fairseq/unilm .pt without fairseq, random weights."""

from __future__ import annotations

import argparse
import os
import sys
import types
import typing
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lwa_cli.demo.models import build_model, tiny_spec, write_demo_models
from lwa_cli.errors import LwaError
from lwa_cli.models import fairseq, registry
from lwa_cli.models.capture import extract_layers
from lwa_cli.models.fairseq import (
    fairseq_name,
    fairseq_state_dict,
    hf_name,
    parse_conv_layers,
    write_checkpoint,
)
from lwa_cli.models.loading import load_model

WAVE = (0.1 * np.random.default_rng(7).standard_normal(8000)).astype(np.float32)

# (family kwargs of tiny_spec, write_checkpoint kwargs)
FORMATS = {
    "wav2vec2_dict": (dict(family="wav2vec2", n_layers=2),
                      dict(style="fairseq", config_format="dict")),
    "wav2vec2_large_namespace_new_wn": (
        dict(family="wav2vec2", n_layers=3, pre_ln=True, conv_norm="layer", conv_bias=True),
        dict(style="fairseq", config_format="namespace", weight_norm="new")),
    "hubert_args": (dict(family="hubert", n_layers=2), dict(style="fairseq", config_format="args")),
    "wavlm_unilm": (dict(family="wavlm", n_layers=2), dict(style="unilm")),
    "wavlm_large_unilm": (dict(family="wavlm", n_layers=2, pre_ln=True, conv_norm="layer"),
                          dict(style="unilm")),
    "data2vec_dict": (dict(family="data2vec", n_layers=2),
                      dict(style="fairseq", config_format="dict")),
}


@pytest.fixture
def no_fairseq(monkeypatch):
    """Make fairseq and omegaconf unimportable (a None entry in sys.modules blocks import)."""
    for name in ("fairseq", "omegaconf", "hydra"):
        monkeypatch.setitem(sys.modules, name, None)


def tiny(family: str, seed: int = 0, **kwargs):
    """A tiny transformers model and its spec."""
    spec = tiny_spec(f"tiny_{family}", family, **kwargs)
    return build_model(spec, seed), spec


def all_layers(model_name: str, path: Path) -> dict[str, np.ndarray]:
    """Every layer of the test waveform through load_model + extract_layers."""
    return extract_layers(load_model(model_name, path), WAVE, ["all"])


def reference_layers(model: torch.nn.Module, normalize: bool = False) -> dict[str, np.ndarray]:
    """Every layer of the test waveform from an in-memory model."""
    from lwa_cli.models.loading import LoadedModel
    from lwa_cli.models.registry import spec_from_hf_config

    spec = spec_from_hf_config(model.config, name="ref", normalize_input=normalize)
    loaded = LoadedModel("ref", spec, model.eval(), normalize, "", "", spec.n_conv,
                         spec.n_layers, torch.device("cpu"), "test")
    return extract_layers(loaded, WAVE, ["all"])


# ------------------------------------------------------------------ fairseq / unilm round trips


@pytest.mark.parametrize("key", list(FORMATS))
def test_fairseq_checkpoint_loads_back_identically_without_fairseq(key, tmp_path, no_fairseq):
    spec_kwargs, write_kwargs = FORMATS[key]
    kwargs = dict(spec_kwargs)
    family = kwargs.pop("family")
    model, spec = tiny(family, seed=3, **kwargs)
    normalize = spec.pre_ln
    path = write_checkpoint(tmp_path / f"{key}.pt", model, normalize=normalize, **write_kwargs)
    raw = torch.load(path, weights_only=False)
    assert "post_extract_proj.weight" in raw["model"]  # really fairseq names
    assert not any(k.startswith("feature_projection") for k in raw["model"])

    loaded = load_model(f"my_{key}", path)
    assert loaded.source == write_kwargs["style"]
    assert loaded.spec.family == family
    assert loaded.spec.arch_differences(replace(spec, name=f"my_{key}")) == []
    assert loaded.normalize_input is normalize
    assert loaded.spec.conv_norm == spec.conv_norm and loaded.spec.conv_bias == spec.conv_bias
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.module.state_dict()[name], value), name
    expected = reference_layers(model, normalize)
    got = extract_layers(loaded, WAVE, ["all"])
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])
    assert not any(m == "fairseq" or m.startswith(("fairseq.", "omegaconf."))
                   for m in sys.modules if sys.modules[m] is not None)


def _fake_module(monkeypatch, name: str, **classes) -> None:
    """Register a module called ``name`` (with ``classes``) so that pickle can save them."""
    parts = name.split(".")
    for i in range(1, len(parts)):  # pickle imports the parent packages too
        parent = ".".join(parts[:i])
        if sys.modules.get(parent) is None:
            monkeypatch.setitem(sys.modules, parent, types.ModuleType(parent))
    module = types.ModuleType(name)
    for cls_name, cls in classes.items():
        cls.__module__ = name
        cls.__qualname__ = cls_name
        setattr(module, cls_name, cls)
    monkeypatch.setitem(sys.modules, name, module)


def test_omegaconf_dictconfig_pickle_becomes_plain_data(tmp_path, monkeypatch):
    """A config pickled as omegaconf DictConfig/AnyNode objects (as hydra fairseq does)."""

    class DictConfig:
        def __init__(self, content):
            self.__dict__.update(_metadata=ContainerMetadata(), _parent=None, _content=content)

        def __getstate__(self):
            return dict(self.__dict__)

    class AnyNode:
        def __init__(self, value):
            self.__dict__.update(_metadata=ContainerMetadata(), _parent=None, _val=value)

    class ContainerMetadata:
        def __init__(self):
            self.ref_type = typing_any
            self.object_type = dict

    class Choices:  # stands for fairseq's ChoiceEnum members, pickled by value
        def __init__(self, value):
            self.value = value

        def __reduce__(self):
            return (Choices, (self.value,))

    typing_any = typing.Any  # omegaconf metadata holds typing objects
    _fake_module(monkeypatch, "omegaconf.dictconfig", DictConfig=DictConfig)
    _fake_module(monkeypatch, "omegaconf.nodes", AnyNode=AnyNode)
    _fake_module(monkeypatch, "omegaconf.base", ContainerMetadata=ContainerMetadata)
    _fake_module(monkeypatch, "fairseq.dataclass.constants", Choices=Choices)

    model, spec = tiny("wav2vec2", seed=4)
    cfg = fairseq.fairseq_model_config(spec)

    def node(value):
        if isinstance(value, dict):
            return DictConfig({k: node(v) for k, v in value.items()})
        return AnyNode(value)

    model_cfg = node(cfg)
    model_cfg._content["extractor_mode"] = AnyNode(Choices("default"))
    model_cfg._content["normalize"] = AnyNode("${task.normalize}")  # interpolation: ignored
    task_cfg = node({"_name": "audio_pretraining", "normalize": True})
    ckpt = {"args": None, "cfg": DictConfig({"model": model_cfg, "task": task_cfg}),
            "model": fairseq_state_dict(model)}
    path = tmp_path / "hydra.pt"
    torch.save(ckpt, path)
    for name in ("omegaconf", "omegaconf.dictconfig", "omegaconf.nodes", "omegaconf.base",
                 "fairseq", "fairseq.dataclass", "fairseq.dataclass.constants"):
        monkeypatch.setitem(sys.modules, name, None)

    plain = fairseq.read_checkpoint_file(path)
    assert plain["cfg"]["model"]["extractor_mode"] == "default"
    assert plain["cfg"]["model"]["encoder_layers"] == 2
    assert plain["cfg"]["task"] == {"_name": "audio_pretraining", "normalize": True}
    loaded = load_model("hydra_model", path)
    assert loaded.normalize_input is True
    expected = reference_layers(model, normalize=True)
    np.testing.assert_array_equal(extract_layers(loaded, WAVE, ["T2"])["T2"], expected["T2"])


def test_finetuned_checkpoint_with_prefix_and_ctc_head(tmp_path, no_fairseq):
    model, _ = tiny("hubert", seed=5)
    head = {"w2v_encoder.proj.weight": torch.randn(29, 32),
            "w2v_encoder.proj.bias": torch.zeros(29)}
    path = write_checkpoint(tmp_path / "ft.pt", model, normalize=False, finetuned=True,
                            extra_params=head)
    raw = torch.load(path, weights_only=False)
    assert all(k.startswith("w2v_encoder.") for k in raw["model"])
    assert raw["cfg"]["model"]["_name"] == "wav2vec_ctc"
    got = all_layers("my_ft", path)
    expected = reference_layers(model)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])


def test_pretraining_parameters_are_skipped_and_mask_emb_is_loaded(tmp_path):
    model, _ = tiny("wav2vec2", seed=6)
    extra = {
        "quantizer.vars": torch.randn(1, 8, 4),
        "quantizer.weight_proj.weight": torch.randn(8, 32),
        "project_q.weight": torch.randn(4, 4),
        "final_proj.weight": torch.randn(4, 32),
        "label_embs_concat": torch.randn(3, 4),
        "_ema": torch.randn(2),
    }
    path = write_checkpoint(tmp_path / "pre.pt", model, normalize=False, extra_params=extra)
    ckpt = fairseq.read_checkpoint(path, name="x")
    assert set(ckpt.skipped) == set(extra)
    loaded = load_model("x", path)
    assert torch.equal(loaded.module.masked_spec_embed, model.masked_spec_embed)


def _edit_checkpoint(src: Path, dst: Path, edit) -> Path:
    """Copy a checkpoint with its state dict edited in place by ``edit``."""
    ckpt = torch.load(src, weights_only=False)
    edit(ckpt["model"])
    torch.save(ckpt, dst)
    return dst


def test_unknown_missing_and_misshaped_parameters_are_listed(tmp_path):
    model, _ = tiny("wav2vec2", seed=1)
    good = write_checkpoint(tmp_path / "good.pt", model, normalize=False)

    def add_unknown(sd):
        sd["encoder.adapter.weight"] = torch.zeros(2)

    def drop(sd):
        del sd["encoder.layers.1.fc1.weight"]

    def reshape(sd):
        sd["encoder.layers.0.fc2.bias"] = torch.zeros(5)

    cases = [(add_unknown, "unknown parameters encoder.adapter.weight"),
             (drop, "missing parameters encoder.layers.1.feed_forward.intermediate_dense.weight"),
             (reshape, "encoder.layers.0.feed_forward.output_dense.bias (5,) (expected (32,))")]
    for i, (edit, fragment) in enumerate(cases):
        bad = _edit_checkpoint(good, tmp_path / f"bad{i}.pt", edit)
        with pytest.raises(LwaError) as err:
            load_model("x", bad)
        assert fragment in str(err.value)
        assert str(bad) in str(err.value)


@pytest.mark.parametrize("legacy", [False, True])
def test_a_pickled_callable_is_refused(tmp_path, legacy):
    marker = tmp_path / "code_ran"

    class Payload:
        def __reduce__(self):
            return (os.makedirs, (str(marker),))

    model, _ = tiny("wav2vec2")
    ckpt = {"cfg": {"model": {"_name": "wav2vec2"}, "task": {}},
            "model": fairseq_state_dict(model), "extra_state": {"x": Payload()}}
    path = tmp_path / "evil.pt"
    torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(LwaError, match=r"refusing to load .*makedirs"):
        load_model("x", path)
    assert not marker.exists()


def test_eval_and_builtin_callables_are_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (eval, ("1 + 1",))

    path = tmp_path / "evil2.pt"
    torch.save({"cfg": {"model": {}}, "model": {"x": Payload()}}, path)
    with pytest.raises(LwaError, match="builtins.eval"):
        fairseq.read_checkpoint_file(path)


def test_unreadable_and_missing_checkpoints_are_clear_errors(tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(LwaError, match="cannot read checkpoint"):
        load_model("x", corrupt)
    with pytest.raises(LwaError, match="does not exist"):
        load_model("x", tmp_path / "nope.pt")
    empty_dir = tmp_path / "dir"
    empty_dir.mkdir()
    with pytest.raises(LwaError, match="no config.json"):
        load_model("x", empty_dir)
    not_a_ckpt = tmp_path / "list.pt"
    torch.save([1, 2, 3], not_a_ckpt)
    with pytest.raises(LwaError, match="not a fairseq/unilm checkpoint"):
        load_model("x", not_a_ckpt)
    no_cfg = tmp_path / "nocfg.pt"
    torch.save({"model": OrderedDict(w=torch.zeros(1))}, no_cfg)
    with pytest.raises(LwaError, match="no model configuration"):
        load_model("x", no_cfg)


def test_name_mapping_round_trips():
    model, spec = tiny("wavlm", pre_ln=True, conv_norm="layer")
    for key in model.state_dict():
        for style in ("old", "new"):
            back = hf_name(fairseq_name(key, conv_norm=spec.conv_norm, weight_norm=style))
            if "pos_conv_embed.conv.parametrizations" in key or key.endswith(("weight_g",
                                                                              "weight_v")):
                assert back in ("encoder.pos_conv_embed.conv.weight_g",
                                "encoder.pos_conv_embed.conv.weight_v")
            else:
                assert back == key
    assert fairseq_name("feature_extractor.conv_layers.0.layer_norm.weight",
                        conv_norm="group") == "feature_extractor.conv_layers.0.2.weight"
    assert fairseq_name("feature_extractor.conv_layers.3.layer_norm.bias",
                        conv_norm="layer") == "feature_extractor.conv_layers.3.2.1.bias"
    assert hf_name("encoder.pos_conv.2.0.weight") == "encoder.pos_conv_embed.layers.2.conv.weight"
    assert hf_name("encoder.layers.0.self_attn.grep_a") == (
        "encoder.layers.0.attention.gru_rel_pos_const")
    assert hf_name("quantizer.vars") is None


def test_conv_feature_layers_parser():
    text = "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]"
    assert parse_conv_layers(text) == registry.STANDARD_CONV
    with pytest.raises(LwaError):
        parse_conv_layers("__import__('os').getcwd()")
    with pytest.raises(LwaError):
        parse_conv_layers("[(1, 2)]")


# ------------------------------------------------------------------ registry names


def test_registry_name_with_another_architecture_is_refused(tmp_path):
    model, _ = tiny("wav2vec2")
    path = write_checkpoint(tmp_path / "tiny.pt", model, normalize=False)
    with pytest.raises(LwaError) as err:
        load_model("wav2vec_base", path)
    message = str(err.value)
    assert "is not a wav2vec_base" in message
    assert "hidden_size 32 (registry wav2vec_base: 768)" in message
    assert "n_layers 2 (registry wav2vec_base: 12)" in message


def test_registry_name_with_matching_architecture_loads(tmp_path, monkeypatch):
    model, spec = tiny("hubert", seed=2)
    entry = replace(spec, name="tiny_hubert", normalize_input=True)
    monkeypatch.setitem(registry.REGISTRY, "tiny_hubert", entry)
    path = tmp_path / "tiny_hubert.pt"
    ckpt = write_checkpoint(path, model, normalize=False)
    loaded = load_model("tiny_hubert", ckpt)
    assert loaded.spec.name == "tiny_hubert"
    assert loaded.normalize_input is False  # the checkpoint's task.normalize wins
    other, _ = tiny("wavlm")
    wrong = write_checkpoint(tmp_path / "wavlm.pt", other, normalize=False, style="unilm")
    with pytest.raises(LwaError, match="family wavlm"):
        load_model("tiny_hubert", wrong)


def test_registry_names_need_a_checkpoint_and_unknown_names_are_refused():
    with pytest.raises(LwaError, match="needs --checkpoint"):
        load_model("hubert_base", None)
    with pytest.raises(LwaError, match="not in the registry"):
        load_model("my_model", None)


# ------------------------------------------------------------------ random weights


def test_random_models_are_seeded_and_leave_the_global_rng_alone(monkeypatch):
    _, spec = tiny("wavlm")
    monkeypatch.setitem(registry.REGISTRY, "tiny_wavlm_random",
                        replace(spec, name="tiny_wavlm_random", random=True))
    state = torch.random.get_rng_state()
    a = load_model("tiny_wavlm_random", None, seed=3)
    b = load_model("tiny_wavlm_random", None, seed=3)
    c = load_model("tiny_wavlm_random", None, seed=4)
    assert torch.equal(state, torch.random.get_rng_state())
    assert a.checkpoint == "random:3" and a.seed == 3 and a.source == "random"
    assert a.fingerprint == b.fingerprint != c.fingerprint
    sd_a, sd_b, sd_c = (m.module.state_dict() for m in (a, b, c))
    assert all(torch.equal(sd_a[k], sd_b[k]) for k in sd_a)
    assert not all(torch.equal(sd_a[k], sd_c[k]) for k in sd_a)
    assert a.spec.random and a.n_layers == 2


def test_random_variant_of_a_checkpoint_keeps_architecture_not_weights(tmp_path):
    paths = write_demo_models(tmp_path / "demo")
    trained = load_model("demo_wavlm", paths["demo_wavlm"])
    rand = load_model("demo_wavlm_random", paths["demo_wavlm"], seed=1)
    assert rand.spec.arch_differences(replace(trained.spec, name=rand.name)) == []
    assert rand.normalize_input is trained.normalize_input is True
    assert rand.checkpoint == "random:1"
    key = "encoder.layers.0.feed_forward.intermediate_dense.weight"
    assert not torch.equal(rand.module.state_dict()[key], trained.module.state_dict()[key])


def test_loaded_models_are_in_eval_mode_without_grad_or_layerdrop(tmp_path):
    paths = write_demo_models(tmp_path / "demo")
    loaded = load_model("demo_hubert", paths["demo_hubert"])
    assert not loaded.module.training
    assert not any(p.requires_grad for p in loaded.module.parameters())
    assert loaded.module.config.layerdrop == 0.0
    assert loaded.device == torch.device("cpu")


# ------------------------------------------------------------------ HF directories, demo models


def test_demo_models_load_back_in_their_formats(tmp_path):
    paths = write_demo_models(tmp_path / "demo", seed=0)
    assert set(paths) == {"demo_wav2vec2", "demo_hubert", "demo_wavlm", "demo_whisper"}
    assert paths["demo_wav2vec2"].is_dir()
    assert (paths["demo_wav2vec2"] / "config.json").is_file()
    assert paths["demo_hubert"].suffix == paths["demo_wavlm"].suffix == ".pt"
    hubert_raw = torch.load(paths["demo_hubert"], weights_only=False)
    assert "label_embs_concat" in hubert_raw["model"] and "task" in hubert_raw["cfg"]
    wavlm_raw = torch.load(paths["demo_wavlm"], weights_only=False)
    assert "encoder_layers" in wavlm_raw["cfg"]  # unilm's flat config dict
    sources = {}
    for name, path in paths.items():
        if name == "demo_whisper":  # tests/test_models_whisper.py
            continue
        loaded = load_model(name, path)
        sources[name] = loaded.source
        assert loaded.spec.hidden_size <= 64 and 2 <= loaded.n_layers <= 4
        assert loaded.spec.frame_rate_hz == 50.0 and loaded.n_conv == 7
        out = extract_layers(loaded, WAVE, ["C7", "T"])
        assert out["C7"].shape[0] == out["T0"].shape[0] == 24
    assert sources == {"demo_wav2vec2": "hf", "demo_hubert": "fairseq", "demo_wavlm": "unilm"}
    again = write_demo_models(tmp_path / "demo2", seed=0)
    for name in paths:
        first, second = all_layers(name, paths[name]), all_layers(name, again[name])
        for layer in first:
            np.testing.assert_array_equal(first[layer], second[layer])


def test_hf_directory_normalize_and_fingerprint(tmp_path):
    paths = write_demo_models(tmp_path / "demo")
    hf_dir = paths["demo_wav2vec2"]
    loaded = load_model("demo_wav2vec2", hf_dir)
    assert loaded.normalize_input is False and loaded.checkpoint == str(hf_dir)
    assert len(loaded.fingerprint) == 64
    assert load_model("demo_wav2vec2", hf_dir).fingerprint == loaded.fingerprint
    pre = hf_dir / "preprocessor_config.json"
    pre.write_text(pre.read_text().replace('"do_normalize": false', '"do_normalize": true'))
    renormed = load_model("demo_wav2vec2", hf_dir)
    assert renormed.normalize_input is True
    assert renormed.fingerprint != loaded.fingerprint
    pre.unlink()
    assert load_model("demo_wav2vec2", hf_dir).normalize_input is False
    fs_ckpt = load_model("demo_hubert", paths["demo_hubert"])
    assert fs_ckpt.fingerprint == _sha256(paths["demo_hubert"])


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_hf_directory_of_unsupported_type_is_refused(tmp_path):
    bad = tmp_path / "bert"
    bad.mkdir()
    (bad / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(LwaError, match="model_type 'bert'"):
        load_model("x", bad)


def test_hf_directory_under_registry_name_is_checked(tmp_path):
    paths = write_demo_models(tmp_path / "demo")
    with pytest.raises(LwaError, match="hidden_size 32"):
        load_model("wav2vec_base", paths["demo_wav2vec2"])


def test_namespace_config_converts_to_plain_dicts():
    ns = argparse.Namespace(a=1, sub=argparse.Namespace(b=[1, 2]))
    assert fairseq.to_plain({"x": ns}) == {"x": {"a": 1, "sub": {"b": [1, 2]}}}


def test_legacy_format_and_half_precision_checkpoints_load(tmp_path):
    model, _ = tiny("data2vec", seed=8)
    path = write_checkpoint(tmp_path / "d2v.pt", model, normalize=True)
    ckpt = torch.load(path, weights_only=False)
    ckpt["model"] = OrderedDict((k, v.half()) for k, v in ckpt["model"].items())
    legacy = tmp_path / "legacy_half.pt"
    torch.save(ckpt, legacy, _use_new_zipfile_serialization=False)
    loaded = load_model("old_d2v", legacy)
    state = loaded.module.state_dict()
    for key, value in model.state_dict().items():
        assert state[key].dtype == torch.float32
        assert torch.equal(state[key], value.half().float()), key
    assert loaded.spec.pos_conv_depth == 2 and loaded.spec.pos_conv_kernel == 5


def test_hf_ctc_directory_loads_its_encoder(tmp_path):
    from transformers import Wav2Vec2ForCTC

    _, spec = tiny("wav2vec2", seed=9)
    config = spec.hf_config()
    config.vocab_size = 12
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(9)
        ctc = Wav2Vec2ForCTC(config).eval()
    ctc.save_pretrained(str(tmp_path / "ctc"))
    got = all_layers("my_ctc", tmp_path / "ctc")
    expected = reference_layers(ctc.wav2vec2)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])


def test_device_names_are_checked():
    from lwa_cli.models.loading import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    with pytest.raises(LwaError, match="not a device"):
        resolve_device("gpu-please")
    if not torch.cuda.is_available():
        with pytest.raises(LwaError, match="no CUDA GPU"):
            load_model("hubert_base_random", None, device="cuda")
