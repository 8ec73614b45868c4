"""A restricted unpickler for checkpoints and pickled configurations (no code runs).

Tensors, containers and numbers are rebuilt as usual; objects of the config libraries
(fairseq, omegaconf, argparse, typing, hydra) become inert `PickledRecord` objects that
`to_plain` turns into dicts and lists; any other global (a function or class that could run
code) is refused with `RefusedGlobalError`. `torch_load` reads a torch file, `pickle_load`
a plain pickle (FaST-VGS's ``args.pkl``), both through this allow-list.
"""

from __future__ import annotations

import _compat_pickle
import argparse
import builtins
import importlib
import os
import pickle
import re
import types
import zipfile
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lwa_cli.errors import LwaError

_CONFIG_MODULES = ("fairseq", "omegaconf", "argparse", "typing", "hydra", "examples", "pathlib")
"""Modules whose pickled objects are configuration: rebuilt as inert records."""


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



def torch_load(path: Path, *, what: str) -> Any:
    """``torch.load`` a file through the restricted unpickler (tensors on CPU).

    Parameters
    ----------
    path : the file.
    what : what the file should be, for error messages (e.g. ``a fairseq/unilm .pt file``).

    Raises
    ------
    LwaError : missing or unreadable file, or a pickled callable outside the allow-list.
    """
    try:
        return torch.load(
            path, map_location="cpu", pickle_module=RESTRICTED_PICKLE, weights_only=False,
            mmap=zipfile.is_zipfile(path),
        )
    except RefusedGlobalError as exc:
        raise LwaError(_refusal(path, exc)) from None
    except FileNotFoundError:
        raise LwaError(f"checkpoint {path} does not exist; check --checkpoint.") from None
    except Exception as exc:  # torch/pickle raise many types for corrupt files
        raise LwaError(
            f"cannot read checkpoint {path} ({type(exc).__name__}: {exc}); is it {what}?"
        ) from None


def pickle_load(path: Path, *, what: str) -> Any:
    """Unpickle a plain pickle file through the restricted unpickler, as plain data.

    Raises
    ------
    LwaError : missing or unreadable file, or a pickled callable outside the allow-list.
    """
    try:
        with open(path, "rb") as fh:
            return to_plain(RestrictedUnpickler(fh).load())
    except RefusedGlobalError as exc:
        raise LwaError(_refusal(path, exc)) from None
    except FileNotFoundError:
        raise LwaError(f"{path} does not exist; is the checkpoint directory complete?") from None
    except Exception as exc:  # pickle raises many types for corrupt files
        raise LwaError(
            f"cannot read {path} ({type(exc).__name__}: {exc}); is it {what}?"
        ) from None


def _refusal(path: Path, exc: RefusedGlobalError) -> str:
    """The message for a pickle that names a global outside the allow-list."""
    return (
        f"refusing to load checkpoint {path}: it pickles {exc.qualified}, which could run "
        "code; lwa only accepts tensors and configuration data in a checkpoint."
    )
