"""Alignment of local (conv) features with log-mel frames (SPEC §4, golden/transform_rep.npz).

Conv blocks C1…C6 run at finer strides than 10 ms; their outputs are box-filter averaged
so that each output frame matches one 10 ms log-mel frame in stride and receptive field. C7 and
all transformer layers (T0…TL) run at 20 ms and pair with every other log-mel frame.
Models with other conv stacks pass their own ``ten_ms`` table (Whisper: C1 at 10 ms already,
``{"C1": (1, 1)}``; its C2 at 20 ms pairs like C7).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lwa_cli.models.layers import is_conv, split_layer

#: (kernel, stride) per conv layer. C1…C6 apply to the conv output (to reach 10 ms frames);
#: C7's (1, 2) applies to the log-mel frames (10 ms → 20 ms), as for every transformer layer.
CONV_ALIGNMENT: dict[str, tuple[int, int]] = {
    "C1": (79, 32),
    "C2": (39, 16),
    "C3": (19, 8),
    "C4": (9, 4),
    "C5": (4, 2),
    "C6": (2, 1),
    "C7": (1, 2),
}

#: Subsampling of the log-mel frames for 20 ms layers (C7 and T0…TL).
MEL_HALF_RATE: tuple[int, int] = CONV_ALIGNMENT["C7"]


def _check_layer(layer: str) -> str:
    """Return ``layer`` if it names a conv (C1…C7) or transformer (T0, T1, …) layer."""
    if split_layer(layer) is None or (is_conv(layer) and layer not in CONV_ALIGNMENT):
        raise ValueError(f"unknown layer {layer!r}; expected C1…C7 or T0, T1, …")
    return layer


def _is_10ms(layer: str, ten_ms: dict[str, tuple[int, int]] | None = None) -> bool:
    """Whether the layer's output is box-averaged to 10 ms frames (C1…C6, or ``ten_ms``)."""
    if ten_ms is not None:
        return layer in ten_ms
    return layer in CONV_ALIGNMENT and layer != "C7"


def box_length(n_frames: int, kernel: int, stride: int) -> int:
    """Frames after box averaging: ``floor((n_frames - kernel) / stride) + 1``, at least 0."""
    if kernel < 1 or stride < 1:
        raise ValueError(f"kernel and stride must be >= 1, got ({kernel}, {stride})")
    if n_frames < kernel:
        return 0
    return (n_frames - kernel) // stride + 1


def box_average(x: ArrayLike, kernel: int, stride: int) -> NDArray[np.float32]:
    """Mean of every window of ``kernel`` frames, windows ``stride`` frames apart.

    Computed as the reference does (float32 ``conv1d`` with weights ``1/kernel``), which
    reproduces ``golden/transform_rep.npz`` bit for bit on the CPU.

    Parameters
    ----------
    x : array_like, shape (T, C)
        Frames by channels.
    kernel, stride : int
        Window length and hop, in frames.

    Returns
    -------
    ndarray of float32, shape (T', C)
        ``T' = floor((T - kernel) / stride) + 1`` (0 when ``T < kernel``); row ``j`` is the
        mean of ``x[j*stride : j*stride + kernel]``.
    """
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"box_average expects a 2-D (frames, channels) array, got {arr.shape}")
    n_out = box_length(arr.shape[0], kernel, stride)
    if n_out == 0:
        return np.zeros((0, arr.shape[1]), dtype=np.float32)
    import torch  # here, not at the top: commands that only read features skip its import

    # Channels become the batch axis: (C, 1, T), one shared averaging filter.
    signal = torch.from_numpy(np.ascontiguousarray(arr.T)).unsqueeze(1)
    weight = torch.full((1, 1, kernel), 1.0 / kernel, dtype=torch.float32)
    with torch.no_grad():
        out = torch.nn.functional.conv1d(signal, weight, stride=stride)
    return np.ascontiguousarray(out[:, 0, :].numpy().T)


def mel_for_layer(layer: str, mel: ArrayLike, n_layer_frames: int,
                  ten_ms: dict[str, tuple[int, int]] | None = None) -> NDArray[np.floating]:
    """Log-mel frames that pair with a layer's frames.

    Parameters
    ----------
    layer : str
        ``C1``…``C7`` or ``T0``, ``T1``, ….
    mel : array_like, shape (n_mel_frames, 80)
        Log-mel features of the utterance (10 ms frames).
    n_layer_frames : int
        Frames of the layer's raw output (before any box averaging).
    ten_ms : dict, optional
        (kernel, stride) of the model's 10 ms layers; default C1…C6 of `CONV_ALIGNMENT`.

    Returns
    -------
    ndarray, shape (n, 80)
        C1…C6: the first ``min(box_length(n_layer_frames, kernel, stride), n_mel_frames)``
        mel frames, in the mel's dtype. C7 and T layers: every other mel frame (kernel 1,
        stride 2) as float32, truncated to ``n_layer_frames``.
    """
    _check_layer(layer)
    m = np.asarray(mel)
    if m.ndim != 2:
        raise ValueError(f"mel must be 2-D (frames, mels), got shape {m.shape}")
    if n_layer_frames < 0:
        raise ValueError(f"n_layer_frames must be >= 0, got {n_layer_frames}")
    if _is_10ms(layer, ten_ms):
        kernel, stride = (ten_ms or CONV_ALIGNMENT)[layer]
        return m[: box_length(n_layer_frames, kernel, stride)].copy()
    return box_average(m, *MEL_HALF_RATE)[:n_layer_frames]


def align_local(
    layer: str, conv_out: ArrayLike, mel: ArrayLike,
    ten_ms: dict[str, tuple[int, int]] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.floating]]:
    """Pair a layer's frames with log-mel frames, both cut to a common length.

    Parameters
    ----------
    layer : str
        ``C1``…``C7`` or ``T0``, ``T1``, ….
    conv_out : array_like, shape (T_L, C)
        The layer's raw output for one utterance (frames by channels).
    mel : array_like, shape (n_mel_frames, 80)
        Log-mel features of the same utterance.
    ten_ms : dict, optional
        (kernel, stride) of the model's 10 ms layers; default C1…C6 of `CONV_ALIGNMENT`.

    Returns
    -------
    feats : ndarray of float32, shape (n, C)
        C1…C6 box-averaged to 10 ms; C7 and T layers unchanged.
    mel_aligned : ndarray, shape (n, 80)
        The matching mel frames (see `mel_for_layer`).
    """
    _check_layer(layer)
    x = np.asarray(conv_out, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"conv_out must be 2-D (frames, channels), got shape {x.shape}")
    if _is_10ms(layer, ten_ms):
        feats = box_average(x, *(ten_ms or CONV_ALIGNMENT)[layer])
    else:
        feats = x
    mel_aligned = mel_for_layer(layer, mel, x.shape[0], ten_ms)
    n = min(feats.shape[0], mel_aligned.shape[0])
    return np.ascontiguousarray(feats[:n]), np.ascontiguousarray(mel_aligned[:n])
