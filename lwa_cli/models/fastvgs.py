"""FaST-VGS / FaST-VGS+ audio branch, read from the released checkpoint directory.

A checkpoint is a directory with ``args.pkl`` (the training ``argparse.Namespace``, read with
the restricted unpickler) and ``best_bundle.pth`` (``dual_encoder``: the audio branch under
``conv1_trm1_trm3.``, optionally behind ``module.``, next to the image and cross-modal
branches, which are ignored). The audio branch is a post-LN wav2vec 2.0 model with one
learned CLS vector put in front of the projected frames before the positional convolution;
every frame attends to it. Taps: T0 = the feature projection output (before the CLS vector),
T1..TL = encoder layer outputs without the CLS position, C1..C7 = the conv blocks. FaST-VGS
exposes T0..T(layer_use + 1) (its deeper layers are untrained), FaST-VGS+ all layers. Input:
each waveform standardised with its mean and population standard deviation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import Wav2Vec2Model

from lwa_cli.errors import LwaError
from lwa_cli.models.capture_taps import Taps
from lwa_cli.models.fairseq_config import spec_from_config
from lwa_cli.models.fairseq_names import load_weights
from lwa_cli.models.fingerprints import FASTVGS_FILES
from lwa_cli.models.safe_pickle import pickle_load, torch_load
from lwa_cli.models.spec import ModelSpec

ARGS_FILE, BUNDLE_FILE = FASTVGS_FILES
AUDIO_PREFIX = "conv1_trm1_trm3."
"""Where the DualEncoder keeps the audio branch (``Wav2Vec2Model_cls``)."""

# Audio-branch parameters that only serve pre-training (quantizer, contrastive heads).
_SKIPPED = ("quantizer.", "input_quantizer.", "project_q.", "project_inp.", "final_proj.",
            "target_glu.")


class FastVgsAudioModel(Wav2Vec2Model):
    """A post-LN wav2vec2 model with FaST-VGS's CLS vector before the encoder."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.cls_token = torch.nn.Parameter(torch.zeros(1, 1, config.hidden_size))

    def forward(self, input_values: torch.Tensor, **_: Any) -> torch.Tensor:  # type: ignore[override]
        """Encoder output (batch, 1 + frames, dim), CLS first (layers are read by hooks)."""
        feats = self.feature_extractor(input_values).transpose(1, 2)
        hidden, _ = self.feature_projection(feats)
        cls = self.cls_token.expand(hidden.shape[0], -1, -1)
        return self.encoder(torch.cat([cls, hidden], dim=1))[0]

    def lwa_taps(self) -> Taps:
        """Where capture reads the layers (see the module docstring)."""
        return Taps(conv=self.feature_extractor.conv_layers, layers=self.encoder.layers,
                    t0=self.feature_projection.projection, drop_leading=1)

    def lwa_inputs(self, wave: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
        """``(wave - mean) / std`` (population std) in float64, as float32 (1, n)."""
        x = np.asarray(wave, dtype=np.float64)
        std = x.std()
        if not std > 0:
            raise LwaError("cannot standardise a constant waveform (standard deviation 0).")
        x = ((x - x.mean()) / std).astype(np.float32)
        return {"input_values": torch.from_numpy(x).to(device).unsqueeze(0)}


def build(spec: ModelSpec) -> FastVgsAudioModel:
    """An (untrained) FaST-VGS audio branch of ``spec``'s architecture."""
    return FastVgsAudioModel(replace(spec, family="wav2vec2").hf_config(mask_emb=True))


def read_args(path: Path) -> dict[str, Any]:
    """``args.pkl`` of a checkpoint directory as a plain dict (restricted unpickler)."""
    args = pickle_load(path / ARGS_FILE, what="FaST-VGS's pickled argparse.Namespace")
    if not isinstance(args, Mapping) or "encoder_layers" not in args:
        raise LwaError(
            f"{path / ARGS_FILE} is not FaST-VGS training arguments (an argparse.Namespace "
            "with encoder_layers, layer_use, ...)."
        )
    return dict(args)


def exposed_layers(args: Mapping[str, Any], name: str) -> int:
    """T layers the reference taps: all for FaST-VGS+ (``plus`` in the name, as the
    reference decides), else ``layer_use + 1`` (the trained ones)."""
    if "plus" in name:
        return int(args["encoder_layers"])
    return int(args.get("layer_use", 4)) + 1


def spec_from_args(
    args: Mapping[str, Any], *, name: str, entry: ModelSpec | None = None
) -> ModelSpec:
    """Architecture of a FaST-VGS ``args.pkl`` (fairseq wav2vec2 field names).

    ``entry`` (the registry entry, if any) is checked by the caller; it is accepted here so
    that every loader has the same signature.
    """
    if args.get("layer_norm_first"):
        raise LwaError("FaST-VGS checkpoints are post-LN; this args.pkl has layer_norm_first.")
    base = spec_from_config(args, {}, family="wav2vec2", name=name, normalize=True)
    n = exposed_layers(args, name)
    if not 0 < n <= base.n_layers:
        raise LwaError(f"FaST-VGS args.pkl: layer_use {args.get('layer_use')} is out of range "
                       f"for {base.n_layers} encoder layers.")
    return replace(base, family="fastvgs", hf_class="FastVgsAudioModel", n_layers=n,
                   encoder_layers=None if n == base.n_layers else base.n_layers)


def audio_state_dict(bundle: Any, path: Path) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The audio branch's fairseq-named parameters and the names of those not loaded.

    Prefixes are stripped as the reference does (``module``, ``w2v_encoder.w2v_model``,
    ``w2v2_model``, ``conv1_trm1_trm3.``); parameters of the other branches and
    pre-training heads are skipped.
    """
    weights = bundle.get("dual_encoder") if isinstance(bundle, Mapping) else None
    if not isinstance(weights, Mapping) or not weights:
        raise LwaError(f"{path} has no 'dual_encoder' state dict; is it a FaST-VGS bundle?")
    params: dict[str, torch.Tensor] = {}
    skipped: list[str] = []
    for raw, value in weights.items():
        key = str(raw)
        key = key.removeprefix("module.")
        key = key.removeprefix("w2v_encoder.w2v_model.").removeprefix("w2v2_model.")
        if not key.startswith(AUDIO_PREFIX):
            skipped.append(str(raw))  # image encoder, cross-modal layers, CLS projections
            continue
        key = key[len(AUDIO_PREFIX):]
        if key.startswith(_SKIPPED):
            skipped.append(str(raw))
            continue
        if not isinstance(value, torch.Tensor):
            raise LwaError(f"parameter {raw} of {path} is not a tensor.")
        params[key] = value
    if not params:
        raise LwaError(f"{path} has no audio-branch parameters ({AUDIO_PREFIX}...).")
    return params, skipped


def load(path: Path, name: str, entry: ModelSpec | None) -> tuple[FastVgsAudioModel, ModelSpec]:
    """Read a checkpoint directory into a loaded audio branch and its architecture."""
    spec = spec_from_args(read_args(path), name=name, entry=entry)
    bundle = torch_load(path / BUNDLE_FILE, what="a FaST-VGS best_bundle.pth")
    params, _ = audio_state_dict(bundle, path / BUNDLE_FILE)
    if "mask_emb" not in params:
        raise LwaError(f"{path / BUNDLE_FILE} lacks the audio branch's mask_emb.")
    module = build(spec)
    load_weights(module, params, path / BUNDLE_FILE, rename={"cls_token": "cls_token"},
                 hint="Is it a FaST-VGS / FaST-VGS+ bundle?")
    return module, spec
