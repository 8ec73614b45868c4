"""Original fairseq / unilm checkpoints (``.pt``) without fairseq installed.

Reading a checkpoint has three steps:

1. `read_checkpoint_file`: ``torch.load`` with a restricted unpickler. Tensors, containers
   and numbers are rebuilt as usual; objects of the config libraries (fairseq, omegaconf,
   argparse, typing, hydra) become inert records that are then turned into plain dicts and
   lists; any other global (a function or class that could run code) is refused.
2. `read_checkpoint`: the model and task configuration (hydra ``cfg.model``/``cfg.task``,
   old ``args`` namespaces, WavLM's flat ``cfg`` dict, fine-tuned ``w2v_args``) becomes a
   `ModelSpec`; the state dict is kept with fairseq names.
3. `load_weights`: fairseq names are mapped onto the transformers modules; pre-training-only
   parameters are skipped; any other unknown, missing or mis-shaped parameter is an error.

The inverse (`fairseq_state_dict`, `write_checkpoint`) writes a transformers model in fairseq
or unilm format, for the demo models and the tests.
"""

from __future__ import annotations

import _compat_pickle
import argparse
import ast
import builtins
import importlib
import os
import pickle
import re
import types
import zipfile
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lwa_cli.errors import LwaError
from lwa_cli.models.registry import STANDARD_CONV, ModelSpec, frame_rate, spec_from_hf_config

FINETUNED_PREFIX = "w2v_encoder.w2v_model."
"""Prefix of the pre-trained encoder inside fine-tuned (CTC / seq2seq) checkpoints."""

# Parameters that only serve pre-training (quantizer, contrastive/cluster heads, EMA teacher)
# or a fine-tuning head: known, and deliberately not loaded.
SKIPPED_PREFIXES: tuple[str, ...] = (
    "quantizer.",
    "project_q.",
    "project_inp.",
    "final_proj.",
    "label_embs_concat",
    "target_glu.",
    "_ema",
    "ema.",
    "w2v_encoder.proj.",
    "w2v_encoder.proj_ln.",
    "decoder.",
)

_CONFIG_MODULES = ("fairseq", "omegaconf", "argparse", "typing", "hydra", "examples", "pathlib")
"""Modules whose pickled objects are configuration: rebuilt as inert records."""

_MISSING = object()


# --------------------------------------------------------------------------------------
# 1. restricted unpickling
# --------------------------------------------------------------------------------------


class RefusedGlobalError(pickle.UnpicklingError):
    """The pickle names a global that could run code."""

    def __init__(self, qualified: str) -> None:
        super().__init__(f"refused global {qualified}")
        self.qualified = qualified


class PickledRecord:
    """Inert stand-in for a pickled config object (its class need not be importable).

    Construction arguments and the pickled state are stored, nothing else happens:
    no code of the original class runs.
    """

    lwa_module = ""
    lwa_name = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> PickledRecord:
        obj = object.__new__(cls)
        obj.__dict__["lwa_args"] = args
        obj.__dict__["lwa_state"] = None
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to do: `__new__` stored the arguments."""

    def __setstate__(self, state: Any) -> None:
        self.__dict__["lwa_state"] = state


_RECORD_CLASSES: dict[tuple[str, str], type[PickledRecord]] = {}


def _record_class(module: str, name: str) -> type[PickledRecord]:
    """The (cached) `PickledRecord` subclass standing for ``module.name``."""
    key = (module, name)
    if key not in _RECORD_CLASSES:
        safe_name = re.sub(r"\W", "_", name) or "Record"
        _RECORD_CLASSES[key] = type(safe_name, (PickledRecord,), {"lwa_module": module,
                                                                  "lwa_name": name})
    return _RECORD_CLASSES[key]


def _safe_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """`copyreg._reconstructor` restricted to config records (protocol 0/1 pickles)."""
    if isinstance(cls, type) and issubclass(cls, PickledRecord):
        obj = cls.__new__(cls)
        if state is not None:
            obj.__setstate__(state)
        return obj
    if cls in (dict, list, OrderedDict) and base in (dict, list, object):
        return cls()
    raise RefusedGlobalError(f"copyreg._reconstructor({getattr(cls, '__name__', cls)})")


_BUILTINS = {
    "dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str", "bytes",
    "bytearray", "bool", "slice", "range", "object",
}
_TORCH_REBUILD = {
    "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
    "_rebuild_parameter_with_state", "_rebuild_device_tensor_from_numpy",
}
_NUMPY_MULTIARRAY = {"_reconstruct", "scalar"}


def _safe_global(module: str, name: str) -> Any:
    """The object a pickle may reference as ``module.name``, or raise `RefusedGlobalError`."""
    qualified = f"{module}.{name}"
    if module == "builtins" and name in _BUILTINS:
        return getattr(builtins, name)
    if module == "collections" and name in ("OrderedDict", "defaultdict", "Counter"):
        return {"OrderedDict": OrderedDict, "defaultdict": defaultdict, "Counter": Counter}[name]
    if module == "copyreg" and name == "_reconstructor":
        return _safe_reconstructor
    if module == "_codecs" and name == "encode":
        import codecs

        return codecs.encode
    if module == "torch._utils" and name in _TORCH_REBUILD:
        return getattr(torch._utils, name)
    if module == "torch._tensor" and name == "_rebuild_from_type_v2":
        return torch._tensor._rebuild_from_type_v2
    if module == "torch" and name in ("Size", "Tensor", "device"):
        return getattr(torch, name)
    if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
        return getattr(torch, name)
    if module == "torch.nn.parameter" and name == "Parameter":
        return torch.nn.Parameter
    if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in _NUMPY_MULTIARRAY:
        for candidate in ("numpy._core.multiarray", "numpy.core.multiarray"):
            try:
                return getattr(importlib.import_module(candidate), name)
            except ImportError:
                continue
    if module == "numpy" and name in ("ndarray", "dtype"):
        import numpy

        return getattr(numpy, name)
    if module == "numpy.dtypes" and name.endswith("DType"):
        import numpy

        return getattr(numpy.dtypes, name)
    if module.split(".")[0] in _CONFIG_MODULES:
        return _record_class(module, name)
    raise RefusedGlobalError(qualified)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds tensors and config data only (see `_safe_global`)."""

    def find_class(self, module: str, name: str) -> Any:
        """Resolve a global through the allow-list instead of importing it.

        Python 2 names (``__builtin__``, ``copy_reg``), which protocol-2 pickles such as
        torch's use, are first mapped to Python 3 names as `pickle.Unpickler` would.
        """
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        return _safe_global(module, name)


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    """`pickle.load` through `RestrictedUnpickler` (torch's legacy format calls this)."""
    return RestrictedUnpickler(file, **kwargs).load()


RESTRICTED_PICKLE = types.ModuleType("lwa_restricted_pickle")
RESTRICTED_PICKLE.Unpickler = RestrictedUnpickler  # type: ignore[attr-defined]
RESTRICTED_PICKLE.load = _restricted_load  # type: ignore[attr-defined]
RESTRICTED_PICKLE.UnpicklingError = pickle.UnpicklingError  # type: ignore[attr-defined]
"""A pickle-module stand-in for ``torch.load(pickle_module=...)``."""


def to_plain(obj: Any, _path: frozenset[int] = frozenset()) -> Any:
    """Turn unpickled config records (omegaconf, argparse, fairseq) into dicts, lists, values.

    omegaconf containers become their ``_content``, nodes their ``_val``, namespaces and
    dataclasses a dict of their fields, enum members their value, classes their name.
    Tensors and plain values are returned unchanged; reference cycles become None.
    """
    if isinstance(obj, (str, bytes, int, float, bool, type(None), torch.Tensor)):
        return obj
    if isinstance(obj, type):
        if issubclass(obj, PickledRecord):
            return f"{obj.lwa_module}.{obj.lwa_name}"
        return obj.__name__
    if id(obj) in _path:
        return None
    path = _path | {id(obj)}
    if isinstance(obj, PickledRecord):
        return _record_to_plain(obj, path)
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            plain_key = to_plain(key, path)
            if not isinstance(plain_key, (str, int, float, bool, type(None))):
                plain_key = str(plain_key)
            out[plain_key] = to_plain(value, path)
        return out
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_plain(v, path) for v in obj]
    if isinstance(obj, argparse.Namespace):
        return to_plain(vars(obj), path)
    return obj


def _record_to_plain(record: PickledRecord, path: frozenset[int]) -> Any:
    """Plain data of one config record (see `to_plain`)."""
    state = record.lwa_state
    args = record.lwa_args
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
        state = {**(state[0] or {}), **state[1]}  # (dict state, slot state)
    if isinstance(state, dict):
        if "_content" in state:  # omegaconf DictConfig / ListConfig
            return to_plain(state["_content"], path)
        if "_val" in state:  # omegaconf value node
            return to_plain(state["_val"], path)
        return to_plain(state, path)
    if record.lwa_module.startswith("pathlib"):
        return os.path.join(*(str(a) for a in args)) if args else ""
    if len(args) == 1:  # enum member, or a wrapper of one value
        return to_plain(args[0], path)
    if args:
        return [to_plain(a, path) for a in args]
    return None


def read_checkpoint_file(path: Path) -> dict[str, Any]:
    """Unpickle a ``.pt`` file safely (tensors on CPU) and make its config plain data.

    Raises
    ------
    LwaError : unreadable file, a pickled callable outside the allow-list, or not a dict.
    """
    try:
        mmap = zipfile.is_zipfile(path)
        obj = torch.load(
            path, map_location="cpu", pickle_module=RESTRICTED_PICKLE, weights_only=False,
            mmap=mmap,
        )
    except RefusedGlobalError as exc:
        raise LwaError(
            f"refusing to load checkpoint {path}: it pickles {exc.qualified}, which could run "
            "code; lwa only accepts tensors and configuration data in a .pt file."
        ) from None
    except FileNotFoundError:
        raise LwaError(f"checkpoint {path} does not exist; check --checkpoint.") from None
    except Exception as exc:  # torch/pickle raise many types for corrupt files
        raise LwaError(
            f"cannot read checkpoint {path} ({type(exc).__name__}: {exc}); "
            "is it a complete fairseq/unilm .pt file?"
        ) from None
    if not isinstance(obj, Mapping):
        raise LwaError(
            f"checkpoint {path} holds a {type(obj).__name__}, not a fairseq/unilm checkpoint "
            "dict with 'model' and 'cfg'/'args'."
        )
    out = dict(obj)
    for key in ("cfg", "args"):
        if key in out:
            out[key] = to_plain(out[key])
    return out


# --------------------------------------------------------------------------------------
# 2. configuration
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FairseqCheckpoint:
    """A fairseq/unilm checkpoint read into plain data.

    Attributes
    ----------
    spec : architecture (named as requested) and the checkpoint's normalize flag.
    normalize : the checkpoint's own normalize flag, None when it has none.
    state_dict : encoder parameters with fairseq names (fine-tuning prefix removed).
    skipped : names of known pre-training/fine-tuning parameters that are not loaded.
    style : ``fairseq`` or ``unilm``.
    """

    spec: ModelSpec
    normalize: bool | None
    state_dict: dict[str, torch.Tensor]
    skipped: tuple[str, ...]
    style: str


def _get(cfg: Mapping[str, Any], key: str, default: Any = _MISSING) -> Any:
    """A config value, treating None, omegaconf's ``???`` and ``${...}`` as absent."""
    value = cfg.get(key, _MISSING)
    if value is None or value is _MISSING or (
        isinstance(value, str) and (value == "???" or value.startswith("${"))
    ):
        return default
    return value


def parse_conv_layers(text: Any) -> tuple[tuple[int, int, int], ...]:
    """Parse fairseq's ``conv_feature_layers`` (e.g. ``"[(512, 10, 5)] + [(512, 3, 2)] * 4"``).

    Only list/tuple literals of integers, ``+`` and ``*`` are evaluated (no ``eval``).
    """
    if isinstance(text, (list, tuple)):
        value: Any = text
    else:
        try:
            value = _eval_literal(ast.parse(str(text), mode="eval").body)
        except (SyntaxError, ValueError) as exc:
            raise LwaError(
                f"cannot read conv_feature_layers {text!r} of the checkpoint: {exc}."
            ) from None
    try:
        layers = tuple((int(d), int(k), int(s)) for d, k, s in value)
    except (TypeError, ValueError):
        raise LwaError(f"conv_feature_layers {text!r} is not a list of (dim, kernel, stride).") \
            from None
    if not layers:
        raise LwaError("conv_feature_layers of the checkpoint is empty.")
    return layers


def _eval_literal(node: ast.AST) -> Any:
    """Evaluate a list/tuple/int expression with ``+`` and ``*`` only."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.List):
        return [_eval_literal(e) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_eval_literal(e) for e in node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        left, right = _eval_literal(node.left), _eval_literal(node.right)
        return left + right if isinstance(node.op, ast.Add) else left * right
    raise ValueError(f"unsupported expression {ast.dump(node)}")


_ACTIVATIONS = {"gelu": "gelu", "relu": "relu", "gelu_accurate": "gelu_new",
                "gelu_fast": "gelu_new", "tanh": "tanh", "linear": "linear"}
_ACTIVATIONS_BACK = {"gelu": "gelu", "relu": "relu", "gelu_new": "gelu_accurate",
                     "gelu_pytorch_tanh": "gelu_accurate", "tanh": "tanh", "linear": "linear"}
_FAMILY_NAMES = {"wav2vec2": "wav2vec2", "hubert": "hubert", "data2vec": "data2vec_audio",
                 "wavlm": "wavlm"}
_DATA2VEC_POS = re.compile(r"encoder\.pos_conv\.(\d+)\.0\.weight")


def _split_config(ckpt: Mapping[str, Any], path: Path) -> tuple[dict, dict, str]:
    """(model config, task config, style) of a checkpoint, fine-tuning unwrapped."""
    cfg, args = ckpt.get("cfg"), ckpt.get("args")
    if isinstance(cfg, dict) and isinstance(cfg.get("model"), dict):
        model_cfg, task_cfg, style = cfg["model"], cfg.get("task") or {}, "fairseq"
    elif isinstance(cfg, dict) and "encoder_layers" in cfg:
        model_cfg, task_cfg, style = cfg, cfg, "unilm"  # WavLM: one flat dict
    elif isinstance(args, dict):
        model_cfg, task_cfg, style = args, args, "fairseq"  # pre-hydra argparse namespace
    else:
        raise LwaError(
            f"checkpoint {path} has no model configuration ('cfg' with 'model', WavLM's flat "
            "'cfg', or 'args'); it is not a fairseq/unilm checkpoint."
        )
    if not isinstance(task_cfg, dict):
        task_cfg = {}
    if "w2v_args" in model_cfg or "w2v_path" in model_cfg:
        inner = model_cfg.get("w2v_args")
        if not isinstance(inner, dict):
            raise LwaError(
                f"fine-tuned checkpoint {path} does not embed its pre-training configuration "
                "(w2v_args); convert it to a Hugging Face directory or use the pre-trained .pt."
            )
        inner_model = inner["model"] if isinstance(inner.get("model"), dict) else inner
        inner_task = inner["task"] if isinstance(inner.get("task"), dict) else inner
        if _get(task_cfg, "normalize", None) is None:
            task_cfg = inner_task
        model_cfg = inner_model
    return model_cfg, task_cfg, style


def _detect_family(model_cfg: Mapping[str, Any], keys: list[str], style: str) -> str:
    """Model family from the config name and the parameter names."""
    name = str(_get(model_cfg, "_name", "") or _get(model_cfg, "arch", "")).lower()
    if style == "unilm" or any("grep_linear" in k or "relative_attention_bias" in k for k in keys):
        return "wavlm"
    if "data2vec" in name or any(_DATA2VEC_POS.fullmatch(k) for k in keys):
        return "data2vec"
    if "hubert" in name or "label_embs_concat" in keys:
        return "hubert"
    if "wav2vec" in name or not name:
        return "wav2vec2"
    raise LwaError(
        f"checkpoint model type {name!r} is not supported; lwa reads wav2vec 2.0, XLSR/XLS-R, "
        "HuBERT, WavLM and data2vec-audio checkpoints."
    )


def spec_from_config(
    model_cfg: Mapping[str, Any],
    state_dict: Mapping[str, torch.Tensor],
    *,
    family: str,
    name: str,
    normalize: bool,
) -> ModelSpec:
    """Architecture of a fairseq/unilm model config (fairseq defaults for absent keys).

    The data2vec positional convolution (depth, kernel) is read from its weights, which
    are unambiguous, rather than from config keys that changed name between versions.
    """
    mode = _get(model_cfg, "extractor_mode", "default")
    if mode not in ("default", "layer_norm"):
        raise LwaError(f"conv extractor mode {mode!r} is not supported (default, layer_norm).")
    layer_type = _get(model_cfg, "layer_type", "transformer")
    if layer_type != "transformer":
        raise LwaError(f"encoder layer type {layer_type!r} is not supported (transformer only).")
    activation = _get(model_cfg, "activation_fn", "gelu")
    if activation not in _ACTIVATIONS:
        raise LwaError(f"activation {activation!r} of the checkpoint is not supported.")
    hidden = int(_get(model_cfg, "encoder_embed_dim", 768))
    conv = parse_conv_layers(_get(model_cfg, "conv_feature_layers", list(STANDARD_CONV)))
    conv_pos = int(_get(model_cfg, "conv_pos", 128))
    depth = int(_get(model_cfg, "pos_conv_depth", 1))
    if family == "data2vec":
        layer_ids = sorted(int(m.group(1)) for k in state_dict if (m := _DATA2VEC_POS.fullmatch(k)))
        if layer_ids:
            depth = len(layer_ids)
            conv_pos = int(state_dict[f"encoder.pos_conv.{layer_ids[0]}.0.weight"].shape[-1])
        elif depth > 1:
            conv_pos = max(3, conv_pos // depth)
    elif depth != 1:
        raise LwaError(f"a {depth}-layer positional convolution is only supported for data2vec.")
    pre_ln = bool(_get(model_cfg, "layer_norm_first", False))
    conv_norm = "group" if mode == "default" else "layer"
    if family == "data2vec" and (pre_ln or conv_norm != "layer"):
        raise LwaError("data2vec-audio checkpoints must be post-LN with layer-norm conv blocks.")
    if family == "wavlm" and not _get(model_cfg, "gru_rel_pos", True):
        raise LwaError("WavLM checkpoints without gated relative positions are not supported.")
    return ModelSpec(
        name=name,
        family=family,
        hf_class=_hf_class(family),
        conv_layers=conv,
        n_layers=int(_get(model_cfg, "encoder_layers", 12)),
        hidden_size=hidden,
        frame_rate_hz=frame_rate(conv),
        normalize_input=normalize,
        pre_ln=pre_ln,
        conv_norm=conv_norm,
        conv_bias=bool(_get(model_cfg, "conv_bias", False)),
        n_heads=int(_get(model_cfg, "encoder_attention_heads", 12)),
        ffn_dim=int(_get(model_cfg, "encoder_ffn_embed_dim", 3072)),
        pos_conv_kernel=conv_pos,
        pos_conv_groups=int(_get(model_cfg, "conv_pos_groups", 16)),
        pos_conv_depth=depth,
        num_buckets=int(_get(model_cfg, "num_buckets", 320)),
        max_distance=int(_get(model_cfg, "max_distance", 800)),
        activation=_ACTIVATIONS[activation],
    )


def _hf_class(family: str) -> str:
    """transformers base model class name of a family."""
    from lwa_cli.models.registry import FAMILY_CLASSES

    return FAMILY_CLASSES[family][1]


def _strip_prefix(
    state_dict: Mapping[str, Any], path: Path
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Encoder parameters (fine-tuning prefix removed) and skipped parameter names."""
    if not isinstance(state_dict, Mapping) or not state_dict:
        raise LwaError(f"checkpoint {path} has no 'model' state dict.")
    finetuned = any(str(k).startswith(FINETUNED_PREFIX) for k in state_dict)
    params: dict[str, torch.Tensor] = {}
    skipped: list[str] = []
    for key, value in state_dict.items():
        key = str(key)
        if finetuned:
            if key.startswith(FINETUNED_PREFIX):
                key = key[len(FINETUNED_PREFIX):]
            elif not key.startswith(SKIPPED_PREFIXES):
                params[key] = value  # reported as unknown by `load_weights`
                continue
        if key.startswith(SKIPPED_PREFIXES):
            skipped.append(key)
            continue
        if not isinstance(value, torch.Tensor):
            raise LwaError(f"parameter {key} of checkpoint {path} is not a tensor.")
        params[key] = value
    return params, skipped


def read_checkpoint(
    path: Path, *, name: str, default_normalize: bool = False
) -> FairseqCheckpoint:
    """Read a fairseq/unilm ``.pt`` into an architecture and a fairseq-named state dict.

    Parameters
    ----------
    path : the ``.pt`` file.
    name : the model's name in the workspace (becomes ``spec.name``).
    default_normalize : normalize flag used when the checkpoint has none.
    """
    ckpt = read_checkpoint_file(path)
    model_cfg, task_cfg, style = _split_config(ckpt, path)
    params, skipped = _strip_prefix(ckpt.get("model"), path)
    normalize_raw = _get(task_cfg, "normalize", None)
    normalize = None if normalize_raw is None else bool(normalize_raw)
    family = _detect_family(model_cfg, list(params), style)
    spec = spec_from_config(
        model_cfg, params, family=family, name=name,
        normalize=default_normalize if normalize is None else normalize,
    )
    return FairseqCheckpoint(spec, normalize, params, tuple(skipped), style)


# --------------------------------------------------------------------------------------
# 3. state-dict mapping
# --------------------------------------------------------------------------------------

_POS_G = "encoder.pos_conv_embed.conv.weight_g"
_POS_V = "encoder.pos_conv_embed.conv.weight_v"
_L = r"encoder\.layers\.(\d+)\."

_TO_HF: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r) for p, r in [
        (r"feature_extractor\.conv_layers\.(\d+)\.0\.(weight|bias)",
         r"feature_extractor.conv_layers.\1.conv.\2"),
        (r"feature_extractor\.conv_layers\.(\d+)\.2\.(?:1\.)?(weight|bias)",
         r"feature_extractor.conv_layers.\1.layer_norm.\2"),
        (r"layer_norm\.(weight|bias)", r"feature_projection.layer_norm.\1"),
        (r"post_extract_proj\.(weight|bias)", r"feature_projection.projection.\1"),
        (r"mask_emb", "masked_spec_embed"),
        (r"encoder\.pos_conv\.0\.bias", "encoder.pos_conv_embed.conv.bias"),
        (r"encoder\.pos_conv\.0\.(?:weight_g|parametrizations\.weight\.original0)", _POS_G),
        (r"encoder\.pos_conv\.0\.(?:weight_v|parametrizations\.weight\.original1)", _POS_V),
        (r"encoder\.pos_conv\.(\d+)\.0\.(weight|bias)",
         r"encoder.pos_conv_embed.layers.\1.conv.\2"),
        (r"encoder\.layer_norm\.(weight|bias)", r"encoder.layer_norm.\1"),
        (_L + r"self_attn\.(k|v|q|out)_proj\.(weight|bias)",
         r"encoder.layers.\1.attention.\2_proj.\3"),
        (_L + r"self_attn\.grep_linear\.(weight|bias)",
         r"encoder.layers.\1.attention.gru_rel_pos_linear.\2"),
        (_L + r"self_attn\.grep_a", r"encoder.layers.\1.attention.gru_rel_pos_const"),
        (_L + r"self_attn\.relative_attention_bias\.weight",
         r"encoder.layers.\1.attention.rel_attn_embed.weight"),
        (_L + r"self_attn_layer_norm\.(weight|bias)", r"encoder.layers.\1.layer_norm.\2"),
        (_L + r"fc1\.(weight|bias)", r"encoder.layers.\1.feed_forward.intermediate_dense.\2"),
        (_L + r"fc2\.(weight|bias)", r"encoder.layers.\1.feed_forward.output_dense.\2"),
        (_L + r"final_layer_norm\.(weight|bias)", r"encoder.layers.\1.final_layer_norm.\2"),
    ]
]


def hf_name(fairseq_name: str) -> str | None:
    """The transformers parameter name of a fairseq/unilm one, None if unknown.

    The positional-conv weight norm comes out as ``weight_g``/``weight_v``;
    `load_weights` renames it to the model's own (parametrised) names.
    """
    for pattern, replacement in _TO_HF:
        if pattern.fullmatch(fairseq_name):
            return pattern.sub(replacement, fairseq_name)
    return None


def _weight_norm_names(model_keys: set[str]) -> dict[str, str]:
    """How this transformers/torch version names the positional-conv weight norm."""
    new_g = "encoder.pos_conv_embed.conv.parametrizations.weight.original0"
    new_v = "encoder.pos_conv_embed.conv.parametrizations.weight.original1"
    if new_g in model_keys:
        return {_POS_G: new_g, _POS_V: new_v}
    return {_POS_G: _POS_G, _POS_V: _POS_V}


def _listing(names: list[str], limit: int = 8) -> str:
    """Comma-separated names, shortened after ``limit``."""
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")


def load_weights(
    model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], path: Path
) -> None:
    """Map fairseq-named parameters onto a transformers model and load them (strict).

    Raises
    ------
    LwaError : unknown parameters, missing parameters or shape mismatches, listed by name.
    """
    model_state = model.state_dict()
    rename = _weight_norm_names(set(model_state))
    mapped: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for key, value in state_dict.items():
        target = hf_name(key)
        target = rename.get(target, target) if target else None
        if target is None or target not in model_state:
            unknown.append(key)
        else:
            mapped[target] = value
    missing = sorted(set(model_state) - set(mapped))
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unknown parameters {_listing(sorted(unknown))}")
        if missing:
            parts.append(f"missing parameters {_listing(missing)}")
        raise LwaError(
            f"checkpoint {path} does not match a {type(model).__name__}: "
            + "; ".join(parts) + ". Is it a wav2vec2/HuBERT/WavLM/data2vec-audio encoder?"
        )
    wrong = [
        f"{k} {tuple(v.shape)} (expected {tuple(model_state[k].shape)})"
        for k, v in mapped.items() if tuple(v.shape) != tuple(model_state[k].shape)
    ]
    if wrong:
        raise LwaError(
            f"checkpoint {path} has parameters of the wrong shape for its configuration: "
            f"{_listing(wrong, 4)}."
        )
    model.load_state_dict(mapped, strict=True)


# --------------------------------------------------------------------------------------
# 4. writing fairseq/unilm checkpoints (demo models, tests)
# --------------------------------------------------------------------------------------

_TO_FAIRSEQ: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r) for p, r in [
        (r"feature_extractor\.conv_layers\.(\d+)\.conv\.(weight|bias)",
         r"feature_extractor.conv_layers.\1.0.\2"),
        (r"feature_projection\.layer_norm\.(weight|bias)", r"layer_norm.\1"),
        (r"feature_projection\.projection\.(weight|bias)", r"post_extract_proj.\1"),
        (r"masked_spec_embed", "mask_emb"),
        (r"encoder\.pos_conv_embed\.conv\.bias", "encoder.pos_conv.0.bias"),
        (r"encoder\.pos_conv_embed\.layers\.(\d+)\.conv\.(weight|bias)",
         r"encoder.pos_conv.\1.0.\2"),
        (r"encoder\.layer_norm\.(weight|bias)", r"encoder.layer_norm.\1"),
        (_L + r"attention\.(k|v|q|out)_proj\.(weight|bias)",
         r"encoder.layers.\1.self_attn.\2_proj.\3"),
        (_L + r"attention\.gru_rel_pos_linear\.(weight|bias)",
         r"encoder.layers.\1.self_attn.grep_linear.\2"),
        (_L + r"attention\.gru_rel_pos_const", r"encoder.layers.\1.self_attn.grep_a"),
        (_L + r"attention\.rel_attn_embed\.weight",
         r"encoder.layers.\1.self_attn.relative_attention_bias.weight"),
        (_L + r"layer_norm\.(weight|bias)", r"encoder.layers.\1.self_attn_layer_norm.\2"),
        (_L + r"feed_forward\.intermediate_dense\.(weight|bias)", r"encoder.layers.\1.fc1.\2"),
        (_L + r"feed_forward\.output_dense\.(weight|bias)", r"encoder.layers.\1.fc2.\2"),
        (_L + r"final_layer_norm\.(weight|bias)", r"encoder.layers.\1.final_layer_norm.\2"),
    ]
]
_CONV_NORM = re.compile(r"feature_extractor\.conv_layers\.(\d+)\.layer_norm\.(weight|bias)")
_WEIGHT_NORM = re.compile(
    r"encoder\.pos_conv_embed\.conv\.(?:weight_(g|v)|parametrizations\.weight\.original([01]))"
)


def fairseq_name(hf_key: str, *, conv_norm: str, weight_norm: str = "old") -> str:
    """The fairseq/unilm name of a transformers parameter (inverse of `hf_name`).

    Parameters
    ----------
    conv_norm : ``group`` (norm module at ``.2``) or ``layer`` (at ``.2.1``, after a transpose).
    weight_norm : ``old`` (``weight_g``/``weight_v``) or ``new`` (torch parametrizations).
    """
    norm = _CONV_NORM.fullmatch(hf_key)
    if norm:
        inner = "2" if conv_norm == "group" else "2.1"
        return f"feature_extractor.conv_layers.{norm.group(1)}.{inner}.{norm.group(2)}"
    wn = _WEIGHT_NORM.fullmatch(hf_key)
    if wn:
        is_g = wn.group(1) == "g" or wn.group(2) == "0"
        if weight_norm == "old":
            return "encoder.pos_conv.0.weight_g" if is_g else "encoder.pos_conv.0.weight_v"
        return f"encoder.pos_conv.0.parametrizations.weight.original{0 if is_g else 1}"
    for pattern, replacement in _TO_FAIRSEQ:
        if pattern.fullmatch(hf_key):
            return pattern.sub(replacement, hf_key)
    raise LwaError(f"transformers parameter {hf_key} has no fairseq name.")


def fairseq_state_dict(
    model: torch.nn.Module, *, weight_norm: str = "old", prefix: str = ""
) -> OrderedDict[str, torch.Tensor]:
    """A transformers model's parameters under fairseq/unilm names (cloned, on CPU)."""
    spec = spec_from_hf_config(model.config, name="export", normalize_input=False)
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, value in model.state_dict().items():
        name = fairseq_name(key, conv_norm=spec.conv_norm, weight_norm=weight_norm)
        out[prefix + name] = value.detach().cpu().clone()
    return out


def fairseq_model_config(spec: ModelSpec) -> dict[str, Any]:
    """The fairseq/unilm model configuration (plain dict) of an architecture."""
    conv = "[" + ", ".join(f"({d}, {k}, {s})" for d, k, s in spec.conv_layers) + "]"
    cfg: dict[str, Any] = {
        "_name": _FAMILY_NAMES[spec.family],
        "extractor_mode": "default" if spec.conv_norm == "group" else "layer_norm",
        "conv_feature_layers": conv,
        "conv_bias": spec.conv_bias,
        "encoder_layers": spec.n_layers,
        "encoder_embed_dim": spec.hidden_size,
        "encoder_ffn_embed_dim": spec.ffn_dim,
        "encoder_attention_heads": spec.n_heads,
        "activation_fn": _ACTIVATIONS_BACK.get(spec.activation, spec.activation),
        "layer_norm_first": spec.pre_ln,
        "layer_type": "transformer",
        "conv_pos": spec.pos_conv_kernel * spec.pos_conv_depth,
        "conv_pos_groups": spec.pos_conv_groups,
        "pos_conv_depth": spec.pos_conv_depth,
        "encoder_layerdrop": 0.05,
        "dropout": 0.1,
    }
    if spec.family == "wavlm":
        cfg.update(relative_position_embedding=True, num_buckets=spec.num_buckets,
                   max_distance=spec.max_distance, gru_rel_pos=True)
    return cfg


def write_checkpoint(
    path: Path,
    model: torch.nn.Module,
    *,
    normalize: bool,
    style: str = "fairseq",
    config_format: str = "dict",
    weight_norm: str = "old",
    finetuned: bool = False,
    extra_params: Mapping[str, torch.Tensor] | None = None,
) -> Path:
    """Save a transformers model as an original fairseq or unilm ``.pt`` checkpoint.

    Parameters
    ----------
    path : destination file.
    model : a Wav2Vec2/Hubert/WavLM/Data2VecAudio base model.
    normalize : the task's normalize flag to record.
    style : ``fairseq`` (``cfg.model``/``cfg.task``) or ``unilm`` (WavLM's flat ``cfg`` dict).
    config_format : fairseq style only: ``dict`` (nested dicts), ``namespace`` (``cfg`` whose
        model and task are `argparse.Namespace` objects) or ``args`` (old top-level ``args``).
    weight_norm : positional-conv weight-norm names, ``old`` or ``new`` (parametrizations).
    finetuned : nest the encoder under ``w2v_encoder.w2v_model.`` as a CTC model would.
    extra_params : more parameters to store as they are (pre-training heads, CTC head).
    """
    spec = spec_from_hf_config(model.config, name="export", normalize_input=normalize)
    state = fairseq_state_dict(
        model, weight_norm=weight_norm, prefix=FINETUNED_PREFIX if finetuned else ""
    )
    for key, value in (extra_params or {}).items():
        state[key] = value.detach().cpu().clone()
    model_cfg = fairseq_model_config(spec)
    task_cfg = {"_name": "audio_pretraining", "normalize": normalize, "sample_rate": 16000}
    if style == "unilm":
        flat = {k: v for k, v in model_cfg.items() if k != "_name"}
        ckpt: dict[str, Any] = {"cfg": {**flat, "normalize": normalize}, "model": state}
    elif style == "fairseq":
        if finetuned:
            model_cfg = {"_name": "wav2vec_ctc", "w2v_path": "pretrained.pt",
                         "w2v_args": {"model": model_cfg, "task": task_cfg}}
        if config_format == "dict":
            cfg: Any = {"model": model_cfg, "task": task_cfg}
            ckpt = {"args": None, "cfg": cfg, "model": state}
        elif config_format == "namespace":
            cfg = {"model": _namespace(model_cfg), "task": argparse.Namespace(**task_cfg)}
            ckpt = {"args": None, "cfg": cfg, "model": state}
        elif config_format == "args":
            flat = {k: v for k, v in {**model_cfg, **task_cfg}.items() if k != "_name"}
            args = argparse.Namespace(arch=model_cfg["_name"], task=task_cfg["_name"], **flat)
            ckpt = {"args": args, "model": state}
        else:
            raise LwaError(f"unknown config_format {config_format!r} (dict, namespace, args).")
        ckpt.update(optimizer_history=[], extra_state={"epoch": 1}, last_optimizer_state=None)
    else:
        raise LwaError(f"unknown checkpoint style {style!r} (fairseq, unilm).")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)
    return path


def _namespace(cfg: Mapping[str, Any]) -> argparse.Namespace:
    """A nested `argparse.Namespace` of a nested dict."""
    return argparse.Namespace(
        **{k: _namespace(v) if isinstance(v, Mapping) else v for k, v in cfg.items()}
    )
