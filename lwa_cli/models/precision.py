"""Reduced-precision compute for extraction (``--dtype-compute float16|bfloat16``).

The weights stay float32; the forward pass runs under `torch.autocast`, so matrix products
and convolutions use the lower precision while normalisations and softmax stay float32.
The captured layers are returned as float32 whatever the compute type. float16 autocast
is a GPU feature: on the CPU it is refused (bfloat16 is allowed there, where the CPU
supports it, and is mostly useful to check a GPU run's deviation in advance).
`deviation` measures, per layer, the max |Δ| and the relative deviation from float32 compute
on a few utterances; `precision_record` falls back to float32 when a layer deviates beyond
what rounding explains (a broken low-precision kernel), and extraction records it in the
feature file's summary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from lwa_cli.errors import LwaUsageError
from lwa_cli.models.capture import extract_layers
from lwa_cli.models.layers import parse_layers
from lwa_cli.models.loading import LoadedModel

COMPUTE_DTYPES = ("float32", "float16", "bfloat16")


def check_compute_dtype(dtype: str, device: torch.device | str) -> None:
    """`dtype` must be one of `COMPUTE_DTYPES`, and float16 needs a GPU."""
    if dtype not in COMPUTE_DTYPES:
        raise LwaUsageError(f"dtype_compute={dtype!r} is not one of "
                            f"{', '.join(COMPUTE_DTYPES)}", params=("dtype_compute",))
    kind = torch.device(device).type
    if dtype == "float16" and kind == "cpu":
        raise LwaUsageError("dtype_compute='float16' runs on a GPU only (--device cuda); on the "
                            "CPU use float32, or bfloat16 to preview a reduced-precision run",
                            params=("dtype_compute",))


@contextlib.contextmanager
def compute_precision(device: torch.device, dtype: str) -> Iterator[None]:
    """Run the forward passes inside at `dtype` (autocast; nothing for float32).

    Autocast is per thread: enter it in the thread that runs the model.
    """
    check_compute_dtype(dtype, device)
    if dtype == "float32":
        yield
        return
    with torch.autocast(device_type=device.type, dtype=getattr(torch, dtype)):
        yield


#: Largest relative deviation (RMS of Δ over RMS of the float32 layer) accepted from a
#: reduced-precision forward pass: rounding to bfloat16 (8 significant bits) costs about 1%
#: per layer of a tiny model, while a broken kernel changes the layer wholesale (torch 2.13's
#: CPU bfloat16 grouped conv1d, used by wav2vec 2.0-style positional convolutions, gives
#: 28-53% on the demo models' T layers).
PRECISION_LIMIT = 0.10


def deviation(loaded: LoadedModel, waves: Sequence[np.ndarray],
              dtype: str) -> tuple[dict[str, float], dict[str, float]]:
    """Per layer (all layers), over `waves`: the max |Δ| between `dtype` and float32 compute,
    and the largest relative deviation RMS(Δ) / RMS(float32) of one utterance."""
    names = parse_layers(["all"], loaded.n_conv, loaded.n_layers, model=loaded.name)
    max_delta: dict[str, float] = {}
    relative: dict[str, float] = {}
    for wave in waves:
        exact = extract_layers(loaded, wave, names)
        with compute_precision(loaded.device, dtype):
            low = extract_layers(loaded, wave, names)
        for name in names:
            ref = exact[name].astype(np.float64)
            diff = ref - low[name]
            d = float(np.max(np.abs(diff), initial=0.0))
            max_delta[name] = max(max_delta.get(name, 0.0), d)
            scale = float(np.sqrt(np.mean(ref ** 2))) if ref.size else 0.0
            rel = float(np.sqrt(np.mean(diff ** 2))) / scale if scale > 0 else 0.0
            relative[name] = max(relative.get(name, 0.0), rel)
    return max_delta, relative


def precision_record(dtype: str, max_delta: dict[str, float], relative: dict[str, float],
                     limit: float = PRECISION_LIMIT) -> dict:
    """What a reduced-precision extraction records: the measured deviations and the compute
    type used, float32 when a layer deviates by more than `limit` (with the reason)."""
    worst = max(relative, key=relative.__getitem__)
    record = {"dtype": dtype, "used": dtype, "limit": limit, "max_delta": max_delta,
              "relative": relative, "worst_layer": worst, "reason": ""}
    if relative[worst] > limit:
        record["used"] = "float32"
        record["reason"] = (f"{dtype} compute changes {worst} by {relative[worst]:.0%} of its "
                            f"RMS (limit {limit:.0%}), more than rounding explains")
    return record
