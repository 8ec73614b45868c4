"""Make the tiny FaST-VGS(+) and AV-HuBERT fixtures of tests/fixtures/models/.

Each fixture is a seeded, randomly initialised toy model saved in its family's released
on-disk layout, with the activations of every tapped layer computed by the families' own
code — not by lwa's modules:

* FaST-VGS / FaST-VGS+: ``models/w2v2_model.py`` of github jasonppy/FaST-VGS-Family
  (``Wav2Vec2Model_cls``, run with ``mask=False, features_only=True, superb=True`` as the
  reference toolkit does), on fairseq modules from the PyPI fork ``fairseq-fixed`` 0.12.3.1.
  Directory: ``args.pkl`` (pickled ``argparse.Namespace``) + ``best_bundle.pth``
  (``dual_encoder`` with the audio branch under ``conv1_trm1_trm3.`` and small stand-ins
  for the image branch, ``cross_encoder``, ``optimizer``, ``indices``).
* AV-HuBERT (audio only): ``python_speech_features.logfbank`` + the stacker and per-frame
  layer norm of av_hubert's reference usage, the audio path of ``AVHubertModel.extract_finetune``
  (``feature_extractor_audio.proj``, zero video half, ``layer_norm``, ``post_extract_proj``)
  written here in plain torch, and fairseq-fixed's wav2vec2 ``TransformerEncoder`` (pre-LN)
  for the encoder. File: ``avhubert_tiny.pt`` with an omegaconf ``cfg`` (model ``av_hubert``,
  task ``av_hubert_pretraining``) and av_hubert's parameter names, video branch included.

Rerun (scratch venv, never the project's):

    python3.11 -m venv /tmp/fsvenv   # then make lwa's venv visible to it (torch, numpy):
    echo $LWA/.venv/lib/python3.11/site-packages \
        > /tmp/fsvenv/lib/python3.11/site-packages/main.pth
    /tmp/fsvenv/bin/pip install hydra-core omegaconf bitarray regex sacrebleu \
        python_speech_features
    pip download --no-deps fairseq-fixed==0.12.3.1   # sdist; unpack it, no build needed
    git clone https://github.com/jasonppy/FaST-VGS-Family   # for models/w2v2_model.py
    PYTHONPATH=/tmp/fairseq_fixed-0.12.3.1 /tmp/fsvenv/bin/python scripts/make_model_fixtures.py \\
        --fastvgs-src FaST-VGS-Family --out tests/fixtures/models
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

SR = 16000
N_SAMPLES = 8123  # not a multiple of the 160-sample hop nor of 4 filterbank frames
TINY = dict(encoder_layers=3, encoder_embed_dim=32, encoder_ffn_embed_dim=64,
            encoder_attention_heads=2, conv_pos=16, conv_pos_groups=4)
TINY_CONV = "[(8, 10, 5)] + [(8, 3, 2)] * 4 + [(8, 2, 2)] * 2"
SEEDS = {"fastvgs_tiny": 11, "fastvgs_plus_tiny": 12, "avhubert_tiny": 13}
"""Seed of each fixture: its weights and its test waveform (`test_wave`), which the tests
regenerate instead of reading it from the expected-activation file."""


def test_wave(seed: int) -> np.ndarray:
    """A seeded float32 waveform: noise plus a tone, peak below 1."""
    rng = np.random.default_rng(seed)
    t = np.arange(N_SAMPLES) / SR
    wave = 0.05 * rng.standard_normal(N_SAMPLES) + 0.3 * np.sin(2 * np.pi * 220 * t)
    return wave.astype(np.float32)


def perturb(module: torch.nn.Module, seed: int) -> None:
    """Move every parameter off its initial value (layer norms too), so names matter."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))


# ------------------------------------------------------------------ FaST-VGS


def fastvgs_fixture(src: Path, out: Path, *, plus: bool, seed: int) -> None:
    """One FaST-VGS(+) checkpoint directory and its expected activations."""
    sys.path.insert(0, str(src))
    from models.w2v2_model import Wav2Vec2Model_cls  # the original module code

    parser = argparse.ArgumentParser()
    Wav2Vec2Model_cls.add_args(parser)
    args = parser.parse_args([])
    for key, value in TINY.items():
        setattr(args, key, value)
    args.conv_feature_layers = TINY_CONV
    args.layer_use = 2 if plus else 1
    args.latent_vars, args.final_dim = 4, 16  # a small quantizer (it is not loaded)
    # A few of the training script's own fields, as a real args.pkl has them.
    args.exp_dir = f"/exp/{'fast-vgs-plus' if plus else 'fast-vgs'}-tiny"
    args.hidden_size = TINY["encoder_embed_dim"]
    args.trm_layers = 1
    torch.manual_seed(seed)
    model = Wav2Vec2Model_cls(args)
    perturb(model, seed + 1)
    model.eval()

    name = "fastvgs_plus_tiny" if plus else "fastvgs_tiny"
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "args.pkl", "wb") as fh:
        pickle.dump(args, fh)
    prefix = "module.conv1_trm1_trm3." if not plus else "conv1_trm1_trm3."
    lead = "module." if not plus else ""
    gen = torch.Generator().manual_seed(seed + 2)
    dual = {prefix + k: v.clone() for k, v in model.state_dict().items()}
    for key, shape in [("conv2.linear.weight", (4, 40)), ("conv2.bn1.running_mean", (4,)),
                       ("visual_cls_token", (1, 1, 32)), ("trm2_proj.weight", (32, 32)),
                       ("trm.0.attention.self.query.weight", (32, 32)),
                       ("audio_cls_token_proj_coarse.0.weight", (64, 32)),
                       ("visn_fc.visn_fc.weight", (32, 20))]:
        dual[lead + key] = torch.randn(shape, generator=gen)
    bundle = {"dual_encoder": dual,
              "cross_encoder": {"fc.0.weight": torch.randn(4, 8, generator=gen)},
              "optimizer": {"state": {}, "param_groups": []},
              "indices": {"epoch": 3}, "libri_indices": None}
    torch.save(bundle, d / "best_bundle.pth")

    wave = test_wave(seed)
    a = wave.astype(np.float64)
    x = torch.from_numpy(((a - a.mean()) / a.std()).astype(np.float32))[None]
    convs: list[torch.Tensor] = []
    hooks = [layer.register_forward_hook(lambda _m, _i, o: convs.append(o[0].T.clone()))
             for layer in model.feature_extractor.conv_layers]
    with torch.no_grad():
        res = model(x, padding_mask=None, mask=False, features_only=True, superb=True)
    for h in hooks:
        h.remove()
    n = args.encoder_layers + 1 if plus else args.layer_use + 2  # the reference's taps
    expected = {f"T{i}": h[0].numpy() for i, h in enumerate(res["hidden_states"][:n])}
    expected.update({f"C{i + 1}": c.numpy() for i, c in enumerate(convs)})
    np.savez_compressed(out / f"{name}_expected.npz", **expected)
    sys.path.remove(str(src))
    print(name, {k: v.shape for k, v in expected.items()})


# ------------------------------------------------------------------ AV-HuBERT


def stacker(feats: np.ndarray, stack_order: int) -> np.ndarray:
    """av_hubert's audio stacker: pad frames to a multiple, concatenate consecutive ones."""
    feat_dim = feats.shape[1]
    if len(feats) % stack_order != 0:
        res = stack_order - len(feats) % stack_order
        feats = np.concatenate([feats, np.zeros([res, feat_dim], dtype=feats.dtype)], axis=0)
    return feats.reshape((-1, stack_order, feat_dim)).reshape(-1, stack_order * feat_dim)


def avhubert_fixture(out: Path, seed: int) -> None:
    """A tiny AV-HuBERT .pt and the expected audio-only activations."""
    from fairseq.models.wav2vec.wav2vec2 import TransformerEncoder, Wav2Vec2Config
    from omegaconf import OmegaConf
    from python_speech_features import logfbank

    dim, layers = 32, 2
    enc_cfg = Wav2Vec2Config(
        encoder_layers=layers, encoder_embed_dim=dim, encoder_ffn_embed_dim=64,
        encoder_attention_heads=2, conv_pos=16, conv_pos_groups=4, layer_norm_first=True,
        required_seq_len_multiple=1, encoder_layerdrop=0.0,
    )
    torch.manual_seed(seed)
    audio_proj = torch.nn.Linear(104, dim)  # feature_extractor_audio.proj
    layer_norm = torch.nn.LayerNorm(2 * dim)
    post_extract_proj = torch.nn.Linear(2 * dim, dim)
    encoder = TransformerEncoder(enc_cfg)
    parts = torch.nn.ModuleDict({"a": audio_proj, "n": layer_norm, "p": post_extract_proj,
                                 "e": encoder})
    perturb(parts, seed + 1)
    parts.eval()

    gen = torch.Generator().manual_seed(seed + 2)
    state = {f"feature_extractor_audio.proj.{k}": v for k, v in audio_proj.state_dict().items()}
    state.update({
        "feature_extractor_video.resnet.frontend3D.0.weight": torch.randn(4, 1, 5, 7, 7,
                                                                          generator=gen),
        "feature_extractor_video.resnet.trunk.layer1.0.conv1.weight": torch.randn(
            4, 4, 3, 3, generator=gen),
        "feature_extractor_video.proj.weight": torch.randn(dim, 8, generator=gen),
        "feature_extractor_video.proj.bias": torch.randn(dim, generator=gen),
        "mask_emb": torch.rand(104, generator=gen),
    })
    state.update({f"layer_norm.{k}": v for k, v in layer_norm.state_dict().items()})
    state.update({f"post_extract_proj.{k}": v for k, v in post_extract_proj.state_dict().items()})
    state.update({f"encoder.{k}": v for k, v in encoder.state_dict().items()})
    state.update({"final_proj.weight": torch.randn(16, dim, generator=gen),
                  "final_proj.bias": torch.randn(16, generator=gen),
                  "label_embs_concat": torch.randn(10, 16, generator=gen)})
    model_cfg = {"_name": "av_hubert", "label_rate": 25, "encoder_layers": layers,
                 "encoder_embed_dim": dim, "encoder_ffn_embed_dim": 64,
                 "encoder_attention_heads": 2, "activation_fn": "gelu", "layer_norm_first": True,
                 "conv_pos": 16, "conv_pos_groups": 4, "audio_feat_dim": 104,
                 "modality_fuse": "concat", "sub_encoder_layers": 0, "masking_type": "input",
                 "encoder_layerdrop": 0.05, "dropout": 0.1, "feature_grad_mult": 0.1,
                 "resnet_relu_type": "prelu", "extractor_mode": "default"}
    task_cfg = {"_name": "av_hubert_pretraining", "data": "???", "sample_rate": 25,
                "normalize": True, "stack_order_audio": 4, "input_modality": "image",
                "modalities": ["audio", "video"], "max_sample_size": 500}
    cfg = OmegaConf.create({"common": {"seed": 1}, "model": model_cfg, "task": task_cfg})
    ckpt = {"args": None, "cfg": cfg, "model": state, "optimizer_history": [],
            "extra_state": {"epoch": 1}, "last_optimizer_state": None}
    torch.save(ckpt, out / "avhubert_tiny.pt")

    wave = test_wave(seed)
    feats = logfbank(wave.astype(np.float64), samplerate=SR).astype(np.float32)
    feats = torch.from_numpy(stacker(feats, 4))
    feats = F.layer_norm(feats, feats.shape[1:])
    src = feats.transpose(0, 1)[None]  # [1, 104, T']
    with torch.no_grad():
        features_audio = audio_proj(src.transpose(1, 2)).transpose(1, 2)  # [1, D, T']
        features_video = features_audio.new_zeros(features_audio.shape)
        fused = torch.cat([features_audio, features_video], dim=1).transpose(1, 2)
        x = post_extract_proj(layer_norm(fused))
        _, layer_results = encoder(x, padding_mask=None)
    expected = {"T0": features_audio[0].T.numpy()}
    for i, result in enumerate(layer_results):
        expected[f"T{i + 1}"] = result[0].transpose(0, 1)[0].numpy()
    np.savez_compressed(out / "avhubert_tiny_expected.npz", **expected)
    print("avhubert_tiny", {k: v.shape for k, v in expected.items()})


def main() -> None:
    """Write all fixtures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fastvgs-src", type=Path, required=True,
                        help="checkout of jasonppy/FaST-VGS-Family (its models/ package)")
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/models"))
    opts = parser.parse_args()
    opts.out.mkdir(parents=True, exist_ok=True)
    fastvgs_fixture(opts.fastvgs_src, opts.out, plus=False, seed=SEEDS["fastvgs_tiny"])
    fastvgs_fixture(opts.fastvgs_src, opts.out, plus=True, seed=SEEDS["fastvgs_plus_tiny"])
    avhubert_fixture(opts.out, seed=SEEDS["avhubert_tiny"])


if __name__ == "__main__":
    main()
