"""Batched forward passes for `lwa extract --batch-seconds S` (models/batching.py).

`batch_plan` decides whether an extraction runs batched: only when asked (``S > 0``; by
default on a GPU, not on the CPU) and when the model's certificate, looked up in the
workspace by the weights' fingerprint or computed on a few utterances of the sample and
stored, says that its batched outputs equal its single-utterance ones. `windows` cuts the
stream of (unit, wave) into windows of consecutive utterances; `forward_window` runs one
window in length buckets and returns the outputs in sample order, so the rows are written
in the same (canonical) order as one at a time and a killed run resumes the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict

import numpy as np

from lwa_cli.errors import param_error
from lwa_cli.models.batching import TOLERANCE, buckets, certify, extract_batch
from lwa_cli.models.loading import LoadedModel
from lwa_cli.models.precision import deviation, precision_record
from lwa_cli.progress import Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.certificates import load_certificate, save_certificate

SAMPLE_RATE = 16000
#: --batch-seconds when not given, on a GPU (padded audio per forward pass).
GPU_BATCH_SECONDS = 120.0
#: Utterances run both ways to certify a model.
CERTIFY_UTTERANCES = 3
#: A window holds up to this many batches' worth of audio, sorted into buckets.
WINDOW_BATCHES = 4


def check_batch_seconds(batch_seconds: float | None) -> None:
    """`batch_seconds` must be None (the device's default), 0 (off) or positive."""
    if batch_seconds is not None and not (np.isfinite(batch_seconds) and batch_seconds >= 0):
        raise param_error("batch_seconds", batch_seconds,
                          "must be 0 (one utterance at a time) or a positive number of seconds")


def batch_plan(ws: Workspace, lm: LoadedModel, batch_seconds: float | None,
               certify_waves: Callable[[], Sequence[np.ndarray]],
               reporter: Reporter) -> tuple[int | None, dict | None]:
    """``(max padded samples per forward, certificate fields)``; ``(None, ...)`` runs one
    utterance at a time (batching off, or the certificate refuses the model: said why)."""
    check_batch_seconds(batch_seconds)
    if batch_seconds is None:
        batch_seconds = GPU_BATCH_SECONDS if lm.device.type == "cuda" else 0.0
    if batch_seconds == 0:
        return None, None
    device = lm.device.type
    cert = load_certificate(ws, lm.fingerprint, device, TOLERANCE)
    if cert is None:
        waves = certify_waves()
        if len(waves) < 2:
            reporter.info("batching off: the sample has fewer than 2 utterances to certify "
                          "the model with")
            return None, None
        cert = asdict(certify(lm, waves, TOLERANCE))
        save_certificate(ws, cert)
        reporter.info(f"batching certificate of {lm.name} ({len(waves)} utterances): "
                      + ("passed, max |Δ| "
                         f"{max(cert['max_delta'].values()):.2g} ≤ {TOLERANCE:g}"
                         if cert["ok"] else "refused"))
    if not cert["ok"]:
        reporter.warn(f"batching off for {lm.name}, one utterance at a time: "
                      f"{cert['reason']}")
        return None, cert
    return max(1, int(batch_seconds * SAMPLE_RATE)), cert


def precision_check(lm: LoadedModel, dtype_compute: str,
                    certify_waves: Callable[[], Sequence[np.ndarray]],
                    reporter: Reporter) -> dict | None:
    """For reduced-precision compute: its deviation from float32 per layer on the certificate
    utterances, and the compute type to use (`precision_record`: float32 when a layer
    deviates beyond rounding, said as a warning); None for float32."""
    if dtype_compute == "float32":
        return None
    record = precision_record(dtype_compute, *deviation(lm, certify_waves(), dtype_compute))
    worst = record["worst_layer"]
    measured = (f"max |Δ| from float32 {max(record['max_delta'].values()):.2g}, relative "
                f"{record['relative'][worst]:.2g} at {worst}, on {CERTIFY_UTTERANCES} "
                "utterances")
    if record["used"] == dtype_compute:
        reporter.info(f"{dtype_compute} compute: {measured}")
    else:
        reporter.warn(f"computing in float32, not {dtype_compute}: {record['reason']} "
                      f"({measured}; on {lm.device.type})")
    return record


def windows(items: Iterable[tuple[int, np.ndarray]],
            max_samples: int | None) -> Iterator[list[tuple[int, np.ndarray]]]:
    """Consecutive items in lists: one item each when `max_samples` is None, else up to
    `WINDOW_BATCHES` × `max_samples` samples of audio (at least one item)."""
    window: list[tuple[int, np.ndarray]] = []
    total = 0
    for item in items:
        if max_samples is None:
            yield [item]
            continue
        if window and total + len(item[1]) > WINDOW_BATCHES * max_samples:
            yield window
            window, total = [], 0
        window.append(item)
        total += len(item[1])
    if window:
        yield window


def forward_window(lm: LoadedModel, waves: Sequence[np.ndarray], names: Sequence[str],
                   max_samples: int) -> list[dict[str, np.ndarray]]:
    """Outputs of `waves` (in their order), run in length buckets of ≤ `max_samples`."""
    out: list[dict[str, np.ndarray] | None] = [None] * len(waves)
    for batch in buckets([len(w) for w in waves], max_samples):
        for pos, got in zip(batch, extract_batch(lm, [waves[i] for i in batch], names),
                            strict=True):
            out[pos] = got
    return out  # type: ignore[return-value]
