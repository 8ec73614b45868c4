"""The generic path: a Hugging Face directory of a model type without a family.

It comes before ``hf_dir`` in `formats.FORMATS`: its ``detect`` takes a directory whose
``config.json`` names a ``model_type`` that `hf_families.HF_FAMILIES` has no entry for (a
new family entry there takes that type off this path).

A Hugging Face directory whose ``model_type`` lwa has no family for is loaded with
`AutoModel` and run on what its own `AutoFeatureExtractor` makes of the waveform; the layers
are the model's ``hidden_states`` (``output_hidden_states=True``): **T0** the first (the
input of layer 1), **T1…TL** the others, with L read from the outputs. There are no C layers.
TL is what transformers returns as the last hidden state, which for some pre-LN models
includes the encoder's final layer norm (the family modules exclude it). Encoder-decoder
models run their encoder only.

The frame period is *measured*: the model runs on seeded noise of 1 s and 2 s; the frame
count must grow by a whole number of samples per frame, and a 1.5 s probe must agree with
that stride (within a frame). A model whose frame count does not follow its input length
(e.g. padding to 30 s) or whose inputs are neither a waveform (``input_values``) nor
spectrogram features (``input_features``) is refused with the reason. The spec's family
``generic`` and its ``hf_extra`` (model type, input, measured stride) go into every feature
file's provenance, so the file records that the generic path was used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lwa_cli.errors import LwaError
from lwa_cli.models.capture_taps import Taps
from lwa_cli.models.fingerprints import hf_dir_fingerprint
from lwa_cli.models.formats.base import CheckpointFormat, LoadedModel, trained
from lwa_cli.models.formats.hf_dir import CONFIG_FILE, dtype_kwarg, quiet_transformers
from lwa_cli.models.hf_families import HF_MODEL_TYPES
from lwa_cli.models.spec import SAMPLE_RATE, ModelSpec

INPUTS = ("input_values", "input_features")
"""Main inputs the generic path can feed: a waveform or spectrogram features."""
PROBE_SAMPLES = (SAMPLE_RATE, 2 * SAMPLE_RATE, 3 * SAMPLE_RATE // 2)
"""Probe lengths: the stride comes from the first two, the third checks it."""
PROBE_SEED = 0


def model_type(path: Path) -> str | None:
    """``model_type`` of a directory's config.json, or None when unreadable."""
    try:
        data = json.loads((Path(path) / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return str(data.get("model_type")) if isinstance(data, dict) else None


def detect(path: Path) -> bool:
    """A Hugging Face directory whose ``model_type`` has no family (`HF_FAMILIES`)."""
    if not path.is_dir():
        return False
    kind = model_type(path)
    return kind is not None and kind not in HF_MODEL_TYPES


class GenericEncoder(torch.nn.Module):
    """A transformers model behind its feature extractor, its hidden states as taps."""

    def __init__(self, model: torch.nn.Module, extractor: Any, n_layers: int) -> None:
        super().__init__()
        self.model = model
        self.extractor = extractor
        self.config = model.config
        self.main_input = str(model.main_input_name)
        # Identity modules whose forward hooks see hidden_states[i] (T i).
        self.taps = torch.nn.ModuleList(torch.nn.Identity() for _ in range(n_layers + 1))

    def forward(self, **inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """All hidden states, each passed through its tap."""
        hidden = self.model(**inputs, output_hidden_states=True).hidden_states
        if len(hidden) != len(self.taps):
            raise LwaError(f"the model gave {len(hidden)} hidden states, its probe "
                           f"{len(self.taps)}; it is not a fixed-depth encoder.")
        return tuple(tap(h) for tap, h in zip(self.taps, hidden, strict=True))

    def lwa_taps(self) -> Taps:
        return Taps(layers=self.taps[1:], t0=self.taps[0])

    def lwa_inputs(self, wave: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
        """The feature extractor's main input for one 16 kHz utterance (no padding)."""
        # The input features are float32 whatever `--dtype-compute` runs the model at.
        with torch.autocast("cpu", enabled=False):
            out = self.extractor(np.asarray(wave, dtype=np.float32), sampling_rate=SAMPLE_RATE,
                                 return_tensors="pt")
        return {self.main_input: out[self.main_input].to(device=device, dtype=torch.float32)}


def _probe(module: GenericEncoder, n_samples: int) -> tuple[int, int, int]:
    """(hidden states, frames, width) of the model on seeded noise of ``n_samples``."""
    wave = 0.1 * np.random.default_rng(PROBE_SEED).standard_normal(n_samples)
    with torch.inference_mode():
        hidden = module.model(**module.lwa_inputs(wave, torch.device("cpu")),
                              output_hidden_states=True).hidden_states
    if not hidden:
        raise LwaError("the model returns no hidden_states; lwa's generic path needs them.")
    return len(hidden), int(hidden[-1].shape[1]), int(hidden[-1].shape[-1])


def measure(module: GenericEncoder, path: Path) -> tuple[int, int, int, int]:
    """(layers L, stride in samples, frames at 1 s, width) measured on probes.

    Raises
    ------
    LwaError : the frame count does not grow with the input, or not at a constant stride.
    """
    (n_hidden, n1, width), (_, n2, _), (_, n3, _) = (
        _probe(module, n) for n in PROBE_SAMPLES)
    l1, l2, l3 = PROBE_SAMPLES
    stride = (l2 - l1) / (n2 - n1) if n2 > n1 else 0.0
    expected = n1 + (l3 - l1) / stride if stride else 0.0
    if not stride or stride != int(stride) or abs(n3 - expected) > 1:
        raise LwaError(
            f"checkpoint {path}: the model gives {n1}, {n2} and {n3} frames for 1, 2 and "
            f"1.5 s of audio, not a constant frame stride (it may pad its input to a fixed "
            "length); lwa's generic path needs frames at a constant period.")
    return n_hidden - 1, int(stride), n1, width


def _from_dir(cls: Any, path: Path, problem: str) -> Any:
    """``cls.from_pretrained(path)`` offline, or an `LwaError` saying ``problem``."""
    try:
        return cls.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise LwaError(f"{problem} ({type(exc).__name__}).") from None


def _read(path: Path) -> tuple[Any, Any, Any]:
    """(config, feature extractor, model) of a directory, offline."""
    from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

    config = _from_dir(AutoConfig, path,
                       f"{path}/config.json has model_type {model_type(path)!r}, which "
                       f"neither lwa ({', '.join(HF_MODEL_TYPES)}) nor the installed "
                       "transformers knows")
    extractor = _from_dir(AutoFeatureExtractor, path,
                          f"checkpoint {path} (model_type {config.model_type!r}) has no usable "
                          "feature extractor (preprocessor_config.json): lwa's generic path "
                          "takes the input convention from it")
    rate = getattr(extractor, "sampling_rate", SAMPLE_RATE)
    if rate != SAMPLE_RATE:
        raise LwaError(f"checkpoint {path}: its feature extractor expects {rate} Hz audio; "
                       f"lwa feeds {SAMPLE_RATE} Hz.")
    try:
        with quiet_transformers():
            model = AutoModel.from_pretrained(str(path), config=config, local_files_only=True,
                                              **dtype_kwarg())
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise LwaError(f"cannot load the model in {path} with AutoModel: {exc}") from None
    return config, extractor, model


def _encoder(path: Path) -> tuple[Any, Any, Any]:
    """(config, feature extractor, encoder) of a directory whose encoder lwa can feed.

    Raises
    ------
    LwaError : unknown model type, no feature extractor, or an input other than `INPUTS`.
    """
    config, extractor, model = _read(path)
    if getattr(config, "is_encoder_decoder", False) and hasattr(model, "get_encoder"):
        model = model.get_encoder()
    main = str(model.main_input_name)
    if main not in INPUTS:
        raise LwaError(f"checkpoint {path} (model_type {config.model_type!r}) takes "
                       f"{main!r}; lwa's generic path feeds speech encoders a waveform "
                       "(input_values) or spectrogram features (input_features).")
    model.eval()
    return config, extractor, model


def measured_spec(path: Path, name: str) -> tuple[GenericEncoder, ModelSpec]:
    """Load a checkpoint through the generic path, measure its frames and describe it.

    Raises
    ------
    LwaError : as `_encoder`, or no constant frame stride (`measure`).
    """
    config, extractor, model = _encoder(path)
    module = GenericEncoder(model, extractor, 0)
    n_layers, stride, n1, width = measure(module, path)
    module.taps = torch.nn.ModuleList(torch.nn.Identity() for _ in range(n_layers + 1))
    main = module.main_input
    extra = (("feature_extractor", type(extractor).__name__), ("frames_at_1s", n1),
             ("input", main), ("model_type", str(config.model_type)),
             ("stride_samples", stride))
    spec = ModelSpec(
        name=name, family="generic", hf_class=type(model).__name__, conv_layers=(),
        n_layers=n_layers, hidden_size=width, frame_rate_hz=SAMPLE_RATE / stride,
        normalize_input=bool(getattr(extractor, "do_normalize", False)), pre_ln=False,
        n_heads=int(getattr(config, "num_attention_heads", 0) or 0),
        ffn_dim=int(getattr(config, "intermediate_size", 0) or 0),
        pos_conv_kernel=0, pos_conv_groups=0, hf_extra=extra,
        description=f"generic transformers path: AutoModel {type(model).__name__} "
                    f"(model_type {config.model_type}), {main} from "
                    f"{type(extractor).__name__}, frame period measured "
                    f"{1000 * stride / SAMPLE_RATE:g} ms",
    )
    return module, spec


def read_spec(path: Path, name: str, entry: ModelSpec | None) -> ModelSpec:
    """The measured architecture (the model is loaded and probed: its frames are measured).

    Raises
    ------
    LwaError : a registry ``entry`` given (its family is not this model type), random
        weights asked for (``*_random``: no family module to build them), or as
        `measured_spec`.
    """
    if entry is not None:
        raise LwaError(f"checkpoint {path} has model_type {model_type(path)!r}, not the "
                       f"{entry.family} architecture of {entry.name}; pass a --model name "
                       "outside the registry to load it through the generic path.")
    if name.endswith("_random"):
        raise LwaError(f"{name}: random weights need an architecture lwa has a family module "
                       f"for; {path} has model_type {model_type(path)!r}.")
    return measured_spec(path, name)[1]


def load(path: Path, spec: ModelSpec, device: torch.device) -> LoadedModel:
    """The encoder of ``spec`` (from `read_spec`) behind its feature extractor, with a note
    saying the generic path was used."""
    _, extractor, model = _encoder(path)
    module = GenericEncoder(model, extractor, spec.n_layers)
    loaded = trained(spec, module, path, hf_dir_fingerprint(path), "generic", device)
    loaded.notes.append(f"{spec.name}: {spec.description}")
    return loaded


FORMAT = CheckpointFormat(
    name="generic",
    what="a Hugging Face directory of another transformers speech encoder (generic path)",
    files=(CONFIG_FILE,), detect=detect, read_spec=read_spec, load=load,
    fingerprint=hf_dir_fingerprint,
)
