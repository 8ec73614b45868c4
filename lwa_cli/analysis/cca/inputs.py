"""Input checks and BLAS thread control shared by the CCA modules."""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from functools import cache
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from lwa_cli.errors import LwaError, LwaUsageError, param_error


def context(name: str | None) -> str:
    """Return `` (name)`` for error messages, or an empty string."""
    return f" ({name})" if name else ""


@cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def serial_blas() -> AbstractContextManager:
    """Run the small, latency-bound LAPACK calls (eigh, SVD, QR) on one BLAS thread.

    They gain little from threads, and on a busy machine OpenBLAS threads waiting for each
    other slow them down by orders of magnitude (measured 40–500×). The streaming
    cross-products, which are compute-bound, keep every thread.
    """
    return _blas_controller().limit(limits=1, user_api="blas")


def as_rows(view: Any, label: str, name: str | None) -> Any:
    """Accept numpy arrays and row-sliceable array-likes with a 2-D ``shape``."""
    if not hasattr(view, "shape") or not hasattr(view, "__getitem__"):
        view = np.asarray(view)
    if len(view.shape) != 2:
        raise LwaError(
            f"view {label}{context(name)} must be 2-D (points × dimensions), got shape "
            f"{tuple(view.shape)}"
        )
    if isinstance(view, np.ndarray) and view.dtype.kind not in "biuf":
        raise LwaError(f"view {label}{context(name)} must hold numbers, not {view.dtype}")
    return view


def check_pair(x: Any, y: Any, name: str | None) -> tuple[int, int, int]:
    """Return (n, dx, dy) of two paired views, or raise LwaError naming the mismatch."""
    n, dx = int(x.shape[0]), int(x.shape[1])
    if int(y.shape[0]) != n:
        raise LwaError(
            f"views x and y{context(name)} hold {n} and {int(y.shape[0])} points; they must "
            "be paired point by point"
        )
    dy = int(y.shape[1])
    if dx == 0 or dy == 0:
        raise LwaError(f"views x and y{context(name)} need at least one dimension each")
    return n, dx, dy


def check_eps(eps_x: float, eps_y: float) -> None:
    """ε must be a finite number ≥ 0 for each view."""
    for view, eps in (("x", eps_x), ("y", eps_y)):
        if not (isinstance(eps, int | float | np.floating) and math.isfinite(eps) and eps >= 0):
            raise LwaUsageError(f"ε_{view} must be a finite number ≥ 0, not {eps!r}")


def check_fraction(label: str, value: float | None, *, upper_open: bool) -> None:
    """``null_tol`` must lie in [0, 1) and ``svd_keep`` in (0, 1] (None: not used)."""
    if value is None:
        return
    ok = isinstance(value, int | float | np.floating) and math.isfinite(value)
    if ok:
        ok = 0.0 <= value < 1.0 if upper_open else 0.0 < value <= 1.0
    if not ok:
        interval = "[0, 1)" if upper_open else "(0, 1]"
        raise param_error(label, value, f"must be a number in {interval} or None")
