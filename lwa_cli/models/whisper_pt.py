"""Checkpoint format: an original openai-whisper ``.pt`` (``{"dims", "model_state_dict"}``).

The file is read with lwa's restricted unpickler (`safe_pickle`: tensors and plain data only;
a pickle naming any other global is refused), memory-mapped, so the decoder's tensors are not
read into memory. ``dims`` gives the architecture (``n_mels``, ``n_audio_ctx``,
``n_audio_state``, ``n_audio_head``, ``n_audio_layer``); the ``encoder.*`` tensors are renamed
onto transformers' `WhisperEncoder` (`hf_name`) and loaded strictly; the decoder is named in a
note. No ``whisper`` package is needed. `write_checkpoint` writes the format (tests, demos).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lwa_cli.errors import LwaError
from lwa_cli.models.fingerprints import file_sha256
from lwa_cli.models.safe_pickle import torch_load
from lwa_cli.models.spec import ModelSpec
from lwa_cli.models.whisper import WhisperAudioModel, build, spec_from_dims
from lwa_cli.models.whisper_hf import load_encoder_state

ENCODER = "encoder."
DIMS_KEYS = ("n_mels", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer")

# openai name (inside the encoder) -> transformers WhisperEncoder name, per block and global.
_BLOCK = {
    "attn.query": "self_attn.q_proj", "attn.key": "self_attn.k_proj",
    "attn.value": "self_attn.v_proj", "attn.out": "self_attn.out_proj",
    "attn_ln": "self_attn_layer_norm", "mlp.0": "fc1", "mlp.2": "fc2",
    "mlp_ln": "final_layer_norm",
}
_GLOBAL = {"positional_embedding": "embed_positions.weight", "ln_post.weight": "layer_norm.weight",
           "ln_post.bias": "layer_norm.bias"}
_BLOCK_RE = re.compile(r"^blocks\.(\d+)\.(.+)\.(weight|bias)$")
_LAYER_RE = re.compile(r"^layers\.(\d+)\.(.+)\.(weight|bias)$")


def hf_name(name: str) -> str:
    """The transformers `WhisperEncoder` name of an openai encoder tensor (no ``encoder.``)."""
    if name in _GLOBAL:
        return _GLOBAL[name]
    m = _BLOCK_RE.match(name)
    if m and m.group(2) in _BLOCK:
        return f"layers.{m.group(1)}.{_BLOCK[m.group(2)]}.{m.group(3)}"
    return name  # conv1/conv2 share their names; anything else fails the strict load


def openai_name(name: str) -> str:
    """Inverse of `hf_name`."""
    back = {v: k for k, v in _GLOBAL.items()}
    if name in back:
        return back[name]
    m = _LAYER_RE.match(name)
    inverse = {v: k for k, v in _BLOCK.items()}
    if m and m.group(2) in inverse:
        return f"blocks.{m.group(1)}.{inverse[m.group(2)]}.{m.group(3)}"
    return name


def is_checkpoint(raw: Any) -> bool:
    """Whether an unpickled object is an openai-whisper checkpoint."""
    return isinstance(raw, Mapping) and "dims" in raw and "model_state_dict" in raw


def detect(path: Path) -> bool:
    """Whether ``path`` is an openai-whisper ``.pt`` (unpickled safely, memory-mapped)."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        return is_checkpoint(_read(path))
    except LwaError:
        return False


def _read(path: Path) -> Any:
    return torch_load(path, what="an openai-whisper .pt file")


def spec_from_checkpoint(raw: Mapping[str, Any], *, name: str, path: Path) -> ModelSpec:
    """The encoder architecture from the checkpoint's ``dims``."""
    dims = raw.get("dims")
    if not isinstance(dims, Mapping) or any(k not in dims for k in DIMS_KEYS):
        raise LwaError(f"openai-whisper checkpoint {path} has no complete 'dims' "
                       f"({', '.join(DIMS_KEYS)}); is the file complete?")
    width = int(dims["n_audio_state"])
    return spec_from_dims(name=name, n_mels=int(dims["n_mels"]), width=width,
                          n_layers=int(dims["n_audio_layer"]),
                          n_heads=int(dims["n_audio_head"]), ffn_dim=4 * width)


def read_spec(path: Path, name: str, entry: ModelSpec | None = None) -> ModelSpec:
    """The encoder architecture of an openai-whisper ``.pt`` (``entry`` checked by the caller)."""
    return spec_from_checkpoint(_read(Path(path)), name=name, path=Path(path))


def fingerprint(path: Path) -> str:
    """sha256 of the file's bytes."""
    return file_sha256(Path(path))


def load(path: Path, spec: ModelSpec, device: torch.device | str = "cpu",
         raw: Mapping[str, Any] | None = None) -> WhisperAudioModel:
    """The encoder of an openai-whisper ``.pt`` (``raw``: the file already unpickled)."""
    path = Path(path)
    raw = raw if raw is not None else _read(path)
    state = raw.get("model_state_dict")
    if not isinstance(state, Mapping):
        raise LwaError(f"openai-whisper checkpoint {path} has no 'model_state_dict'.")
    encoder = {hf_name(str(k)[len(ENCODER):]): v for k, v in state.items()
               if str(k).startswith(ENCODER)}
    if not all(isinstance(v, torch.Tensor) for v in encoder.values()):
        raise LwaError(f"checkpoint {path} has encoder entries that are not tensors.")
    n_ctx = int(raw["dims"]["n_audio_ctx"])
    with torch.random.fork_rng(devices=[]):  # initial weights are all replaced below
        module = build(spec, max_source_positions=n_ctx)
    load_encoder_state(module, encoder, path)
    decoder = [str(k) for k in state if not str(k).startswith(ENCODER)]
    if decoder:
        module.lwa_notes.append(f"{path.name}: the encoder was loaded; not loaded (ignored): "
                                f"decoder ({len(decoder)} tensors)")
    return module.to(device)


def write_checkpoint(module: WhisperAudioModel, path: Path,
                     extra: Mapping[str, torch.Tensor] | None = None) -> Path:
    """Write an encoder as an openai-whisper ``.pt`` (``extra``: decoder tensors to add)."""
    cfg = module.config
    if int(cfg.encoder_ffn_dim) != 4 * int(cfg.d_model):
        raise LwaError(f"an openai-whisper .pt implies a feed-forward width of 4 x d_model "
                       f"({4 * int(cfg.d_model)}); this encoder has {cfg.encoder_ffn_dim}.")
    dims = {"n_mels": int(cfg.num_mel_bins), "n_audio_ctx": int(cfg.max_source_positions),
            "n_audio_state": int(cfg.d_model), "n_audio_head": int(cfg.encoder_attention_heads),
            "n_audio_layer": int(cfg.encoder_layers), "n_vocab": int(cfg.vocab_size),
            "n_text_ctx": int(cfg.max_target_positions), "n_text_state": int(cfg.d_model),
            "n_text_head": int(cfg.decoder_attention_heads),
            "n_text_layer": int(cfg.decoder_layers)}
    state = {ENCODER + openai_name(k): v.detach().clone()
             for k, v in module.encoder.state_dict().items()}
    state.update(dict(extra or {}))
    path = Path(path)
    torch.save({"dims": dims, "model_state_dict": state}, path)
    return path
