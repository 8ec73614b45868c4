"""Cap the threads of this process and its children (``lwa --threads N``).

Every numerical library starts one thread per core by default, so two ``lwa`` runs side by
side (``make -j``, GNU parallel) each grab every core and slow each other down several times
over. `limit_threads` caps, for the rest of the process:

* the BLAS and OpenMP thread pools already loaded (OpenBLAS, MKL, libgomp, ... through
  threadpoolctl), which numpy, scipy, scikit-learn and faiss use;
* torch's intra-op threads, and its inter-op threads while torch still allows it (only
  before its first parallel work), when torch is already imported;
* the environment variables ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
  ``MKL_NUM_THREADS`` (and ``VECLIB_MAXIMUM_THREADS``, ``NUMEXPR_NUM_THREADS``), which
  libraries loaded later (torch's own OpenMP runtime included) and child processes read
  when they start.
"""

from __future__ import annotations

import os
import sys

from lwa_cli.errors import LwaUsageError

#: Environment variables that thread pools read when they start.
THREAD_ENV_VARS: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def check_threads(n: object) -> int:
    """Return ``n`` as an int if it is a positive integer, else raise an `LwaUsageError`."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise LwaUsageError(f"--threads must be a positive integer (1 or more), got {n!r}.")
    return n


def limit_threads(n: int | None) -> None:
    """Cap torch, BLAS and OpenMP threads of this process, and of its children, at ``n``.

    Parameters
    ----------
    n : int or None
        Thread cap (1 or more); None leaves every library at its default.

    Raises
    ------
    LwaUsageError
        When ``n`` is not a positive integer.
    """
    if n is None:
        return
    n = check_threads(n)
    # Environment first: libraries loaded from here on (and child processes) start capped.
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(n)
    from threadpoolctl import threadpool_limits

    # Called (not used as a context manager) so the cap holds for the rest of the process.
    threadpool_limits(limits=n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:
            # torch refuses once inter-op work has started or the value was set before; the
            # intra-op cap above is what bounds the numerical kernels.
            pass
