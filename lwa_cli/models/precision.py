"""Reduced-precision compute for extraction (``--dtype-compute float16|bfloat16``).

The weights stay float32; the forward pass runs under `torch.autocast`, so matrix products
and convolutions use the lower precision while normalisations and softmax stay float32.
The captured layers are returned as float32 whatever the compute type. float16 autocast
is a GPU feature: on the CPU it is refused (bfloat16 is allowed there, where the CPU
supports it, and is mostly useful to check a GPU run's deviation in advance).
`deviation` measures, per layer, the max |Δ| from float32 compute on a few utterances;
extraction records it in the feature file's summary.
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


def deviation(loaded: LoadedModel, waves: Sequence[np.ndarray], dtype: str) -> dict[str, float]:
    """Max |Δ| per layer (all layers) between `dtype` and float32 compute over `waves`."""
    names = parse_layers(["all"], loaded.n_conv, loaded.n_layers, model=loaded.name)
    out: dict[str, float] = {}
    for wave in waves:
        exact = extract_layers(loaded, wave, names)
        with compute_precision(loaded.device, dtype):
            low = extract_layers(loaded, wave, names)
        for name in names:
            d = float(np.max(np.abs(exact[name].astype(np.float64) - low[name]), initial=0.0))
            out[name] = max(out.get(name, 0.0), d)
    return out
