"""Run a loaded model on one waveform and capture the requested layers with hooks.

``C i`` is the output of conv block i after its activation (a forward hook on
``feature_extractor.conv_layers[i-1]``). ``T0`` is the input of the first encoder layer
(features + positional convolution, after the encoder layer norm of post-LN models) and
``T i`` the raw output of encoder layer i, both from hooks on ``encoder.layers``; models
with other taps (FaST-VGS's CLS position, AV-HuBERT's audio projection as T0) describe
them with ``lwa_taps`` and their input with ``lwa_inputs`` (`capture_taps.Taps`). This way
``TL`` never includes the final layer norm of pre-LN models, whatever the transformers
version does with its ``hidden_states``. The forward pass stops as soon as the deepest
requested layer is captured. Each waveform is run alone (batch of one, no padding), so
its features never depend on other utterances.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from lwa_cli.errors import LwaError
from lwa_cli.models.capture_taps import EnoughLayersError, run_hooked, standard_taps
from lwa_cli.models.layers import is_conv, layer_index, parse_layers
from lwa_cli.models.loading import LoadedModel


def prepare_input(
    wave: np.ndarray, normalize: bool, device: torch.device, receptive_field: int
) -> torch.Tensor:
    """The model input (1, n_samples) float32: the waveform, standardised if asked.

    Standardisation is a layer norm over the whole waveform (zero mean, unit variance,
    eps 1e-5), exactly as the reference applies ``F.layer_norm(x, x.shape)``.

    Raises
    ------
    LwaError : not a 1-D waveform, non-finite samples, or shorter than one frame.
    """
    arr = np.asarray(wave)
    if arr.ndim != 1:
        raise LwaError(
            f"expected a mono waveform (1-D), got an array of shape {arr.shape}; "
            "mix or select one channel first."
        )
    if not np.issubdtype(arr.dtype, np.floating):
        raise LwaError(f"expected a float waveform, got dtype {arr.dtype}.")
    if arr.size < receptive_field:
        raise LwaError(
            f"waveform of {arr.size} samples is shorter than one model frame "
            f"({receptive_field} samples at 16 kHz)."
        )
    if not np.all(np.isfinite(arr)):
        raise LwaError("waveform contains NaN or infinite samples; check the audio file.")
    x = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).to(device)
    if normalize:
        x = torch.nn.functional.layer_norm(x, x.shape)
    return x.unsqueeze(0)


def _to_numpy(t: torch.Tensor, channels_first: bool, drop: int = 0) -> np.ndarray:
    """(T, D) float32 array on CPU from a (1, T, D) or (1, D, T) activation.

    ``drop`` leading positions (not frames: FaST-VGS's CLS vector) are left out.
    """
    out = t.detach()[0]
    if channels_first:
        out = out.transpose(0, 1)
    out = out[drop:]
    return out.to(device="cpu", dtype=torch.float32).contiguous().numpy().copy()


def extract_layers(
    loaded: LoadedModel, wave: np.ndarray, layers: Sequence[str]
) -> dict[str, np.ndarray]:
    """Run the model on one waveform and return the requested layers.

    Parameters
    ----------
    loaded : the model (see `load_model`).
    wave : mono 16 kHz float waveform, 1-D.
    layers : layer names or specs (``T4``, ``C1-C3``, ``all``…), parsed with `parse_layers`.

    Returns
    -------
    ``{layer: (n_frames, dim) float32}`` in canonical layer order.
    """
    wanted = parse_layers(list(layers), loaded.n_conv, loaded.n_layers, model=loaded.name)
    own_extract = getattr(loaded.module, "lwa_extract", None)  # Whisper's 30 s windows
    if own_extract is not None:
        return own_extract(wave, wanted, loaded.device)
    module = loaded.module
    x = prepare_input(wave, loaded.normalize_input and not hasattr(module, "lwa_inputs"),
                      loaded.device, loaded.spec.receptive_field)
    own_inputs = getattr(module, "lwa_inputs", None)
    inputs = own_inputs(wave, loaded.device) if own_inputs else {"input_values": x}
    return capture(loaded, inputs, wanted, _to_numpy)


def capture(
    loaded: LoadedModel, inputs: dict[str, Any], wanted: Sequence[str],
    convert: Callable[[torch.Tensor, bool, int], Any],
) -> dict[str, Any]:
    """Run the module on `inputs` and capture the parsed layers `wanted`.

    Each activation is handed, as soon as its hook fires, to ``convert(tensor,
    channels_first, drop_leading)`` (a copy: later modules may reuse the buffer);
    returns ``{layer: converted}`` in the order of `wanted`.
    """
    conv_ids = [layer_index(n) for n in wanted if is_conv(n)]
    trans_ids = [layer_index(n) for n in wanted if not is_conv(n)]
    module = loaded.module
    taps = standard_taps(module)
    captured: dict[str, Any] = {}
    # The last hook to fire decides when the forward may stop.
    last = f"T{max(trans_ids)}" if trans_ids else f"C{max(conv_ids)}"

    def keep(name: str, tensor: torch.Tensor, channels_first: bool, drop: int = 0) -> None:
        captured[name] = convert(tensor.detach(), channels_first, drop)
        if name == last:
            raise EnoughLayersError

    handles: list[Any] = []
    conv_layers = taps.conv
    enc_layers = taps.layers
    drop = taps.drop_leading
    for i in conv_ids:
        handles.append(conv_layers[i - 1].register_forward_hook(
            lambda _m, _a, out, name=f"C{i}": keep(name, out, channels_first=True)
        ))
    if 0 in trans_ids and taps.t0 is not None:
        handles.append(taps.t0.register_forward_hook(
            lambda _m, _a, out: keep(
                "T0", out[0] if isinstance(out, (tuple, list)) else out, channels_first=False
            )
        ))
    elif 0 in trans_ids:
        handles.append(enc_layers[0].register_forward_pre_hook(
            lambda _m, args, kwargs: keep(
                "T0", args[0] if args else kwargs["hidden_states"], channels_first=False
            ),
            with_kwargs=True,
        ))
    for i in (i for i in trans_ids if i > 0):
        handles.append(enc_layers[i - 1].register_forward_hook(
            lambda _m, _a, out, name=f"T{i}": keep(
                name, out[0] if isinstance(out, (tuple, list)) else out, channels_first=False,
                drop=drop,
            )
        ))
    return run_hooked(lambda: module(**inputs), handles, wanted, captured,
                      f"model {loaded.name}")
