"""k-means backends for the MI analysis: fit on training rows, assign training and eval rows.

Four backends, all seeded and deterministic for a given seed, data and thread count:

``minibatch``
    scikit-learn ``MiniBatchKMeans(batch_size, max_iter)``, k-means++ start on
    ``3 * batch_size`` rows: the reference's clustering and lwa's default. At thousands of
    clusters it stops long before convergence, which lowers the MI it measures.
``full``
    scikit-learn ``KMeans``: Lloyd iterations from a k-means++ start, ``n_init=1``,
    ``tol=1e-4`` (centre shift relative to the feature variance), at most ``max_iter``
    iterations. Converged, but the k-means++ start over all N rows costs O(N k D) several
    times over at thousands of clusters.
``lloyd``
    The same Lloyd iterations from a *random* start (k rows drawn without replacement),
    ``n_init=1``, ``tol=1e-4``, at most ``max_iter`` iterations: converged at a fraction of
    the start-up cost of ``full``.
``faiss``
    ``faiss.Kmeans``: a random start and at most ``niter`` Lloyd iterations (`FAISS_NITER` =
    20 by default; faiss stops earlier only when an iteration no longer lowers the
    objective), float32, on every training row (no sub-sampling). Runs on the GPU when
    ``device`` is ``cuda[:N]`` and the installed faiss has GPU support, else on the CPU (the
    result's ``device`` says which; a GPU number faiss does not see is an error). faiss is
    an optional dependency (``pip install faiss-cpu``), imported only when this backend is
    used.

The scikit-learn backends fit on ``fit_dtype`` (float64 by default): scikit-learn's k-means++
start-up upcasts float32 distances block by block and is several times slower on float32
than on float64 at thousands of clusters, while the scores stay inside the seed spread.
``fit_dtype="float32"`` feeds the rows as stored, the reference's exact arithmetic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from lwa_cli.choices import KMEANS as CHOICES_KMEANS
from lwa_cli.errors import LwaError, param_error

#: The ``--kmeans`` choices (import-light: no scikit-learn or faiss at import time).
KMEANS: tuple[str, ...] = CHOICES_KMEANS
KMeansKind = Literal["minibatch", "full", "lloyd", "faiss"]
#: Feature dtypes the scikit-learn backends may fit on.
FIT_DTYPES: tuple[str, ...] = ("float64", "float32")
FitDtype = Literal["float64", "float32"]
#: Lloyd iterations of the faiss backend (at most; it stops once the objective stalls).
FAISS_NITER = 20
#: Convergence tolerance of the ``full`` and ``lloyd`` backends (scikit-learn's default).
LLOYD_TOL = 1e-4

_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


@dataclass(frozen=True)
class Clustering:
    """Cluster ids of both splits and how the fit went.

    Attributes
    ----------
    train_assign : ndarray of int64, shape (N,)
        Nearest final centroid of each training row.
    eval_assign : ndarray of int64, shape (M,), or None
        Nearest final centroid of each eval row (None without eval rows).
    n_iter : int
        Iterations run: mini-batch steps for ``minibatch``, Lloyd iterations otherwise.
    inertia : float
        Mean squared Euclidean distance of a training row to its centroid (lower = tighter;
        comparable across backends on the same data).
    device : str
        Where the fit ran: ``"cpu"`` or the CUDA device faiss used.
    fit_dtype : str
        Dtype of the rows the fit saw (``"float32"`` for faiss).
    """

    train_assign: np.ndarray
    eval_assign: np.ndarray | None
    n_iter: int
    inertia: float
    device: str
    fit_dtype: str


def check_kmeans_settings(*, n_clusters: int, kmeans: str, batch_size: int, max_iter: int,
                          niter: int, fit_dtype: str, device: str) -> None:
    """The one check of k-means settings, by the public entries that take them.

    Raises
    ------
    LwaUsageError : an unknown backend, fit dtype or device, or a count that is not a
        positive integer; the message names the parameter (``kmeans='x' is not one of …``).
    """
    if kmeans not in KMEANS:
        raise param_error("kmeans", kmeans, f"is not one of {', '.join(KMEANS)}.")
    if fit_dtype not in FIT_DTYPES:
        raise param_error("fit_dtype", fit_dtype, f"is not one of {', '.join(FIT_DTYPES)}.")
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise param_error("device", device, "is not one of cpu, cuda, cuda:N.")
    for param, value in (("n_clusters", n_clusters), ("batch_size", batch_size),
                         ("max_iter", max_iter), ("niter", niter)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise param_error(param, value, "must be a positive integer.")


def fit_assign(
    train_X: np.ndarray,
    eval_X: np.ndarray | None,
    *,
    n_clusters: int,
    kmeans: KMeansKind = "minibatch",
    batch_size: int = 1500,
    max_iter: int = 500,
    niter: int = FAISS_NITER,
    seed: int = 0,
    fit_dtype: FitDtype = "float64",
    device: str = "cpu",
) -> Clustering:
    """Fit ``kmeans`` on ``train_X`` and assign every row of both splits to a centroid.

    Inputs and settings are assumed checked (finite floats, same width, ``n_clusters <= N``,
    `check_kmeans_settings`); `lwa_cli.analysis.mi.cluster_assignments` is the validating
    entry point.

    Parameters
    ----------
    train_X, eval_X : ndarray, shape (N, D) / (M, D)
        Training rows and optional eval rows.
    n_clusters : int
        Number of centroids.
    kmeans : {"minibatch", "full", "lloyd", "faiss"}
        The backend (module docstring).
    batch_size : int
        Mini-batch size (``minibatch`` only).
    max_iter : int
        Iteration cap of the scikit-learn backends.
    niter : int
        Iterations of the faiss backend.
    seed : int
        Seed of the backend's random start (and mini-batches); faiss gets ``seed % 2**31``
        (its seed is a C int).
    fit_dtype : {"float64", "float32"}
        Dtype the scikit-learn backends fit on (a copy when it differs from the input's).
    device : str
        ``cpu`` or ``cuda[:N]``; only the faiss backend uses a GPU.
    """
    if kmeans == "faiss":
        return _faiss_fit_assign(train_X, eval_X, n_clusters, niter, seed, device)
    from sklearn.cluster import KMeans, MiniBatchKMeans

    model: Any
    if kmeans == "minibatch":
        model = MiniBatchKMeans(
            n_clusters=n_clusters, batch_size=batch_size, max_iter=max_iter, random_state=seed
        )
    else:
        model = KMeans(
            n_clusters=n_clusters, init="k-means++" if kmeans == "full" else "random",
            n_init=1, max_iter=max_iter, tol=LLOYD_TOL, algorithm="lloyd", random_state=seed,
        )
    model.fit(train_X.astype(fit_dtype, copy=False))
    eval_assign = None
    if eval_X is not None:
        eval_assign = np.asarray(model.predict(eval_X.astype(fit_dtype, copy=False)), np.int64)
    return Clustering(
        train_assign=np.asarray(model.labels_, dtype=np.int64),
        eval_assign=eval_assign,
        n_iter=int(model.n_steps_ if kmeans == "minibatch" else model.n_iter_),
        inertia=float(model.inertia_) / train_X.shape[0],
        device="cpu",
        fit_dtype=fit_dtype,
    )


def _import_faiss() -> Any:
    """faiss, or an LwaError saying how to install it."""
    try:
        import faiss
    except ImportError as exc:
        raise LwaError(
            "kmeans='faiss' needs the faiss package, which is not installed: run "
            "`pip install faiss-cpu` (or `pip install 'lwa[faiss]'`), or pick another `kmeans`.",
            params=("kmeans",)) from exc
    return faiss


def _faiss_fit_assign(
    train_X: np.ndarray,
    eval_X: np.ndarray | None,
    n_clusters: int,
    niter: int,
    seed: int,
    device: str,
) -> Clustering:
    """faiss k-means on every training row; see `fit_assign`."""
    faiss = _import_faiss()
    n, dims = train_X.shape
    kmeans = faiss.Kmeans(
        dims, n_clusters, niter=int(niter), seed=int(seed) % 2**31, verbose=False,
        # Use every row (faiss sub-samples above 256 rows per centroid by default) and do not
        # warn about few rows per centroid: 5000 word clusters have ~4 rows each by design.
        min_points_per_centroid=1, max_points_per_centroid=max(256, -(-n // n_clusters)),
    )
    used = "cpu"
    gpu_id = _gpu_id(device)
    n_gpus = faiss.get_num_gpus() if gpu_id is not None else 0
    if gpu_id is not None and 0 < n_gpus <= gpu_id:
        raise param_error("device", device, f"asks for GPU {gpu_id} but faiss sees {n_gpus} "
                          f"GPU(s); use device='cuda:0' .. device='cuda:{n_gpus - 1}'.")
    if n_gpus > 0:
        resources = faiss.StandardGpuResources()
        kmeans.index = faiss.index_cpu_to_gpu(resources, gpu_id, faiss.IndexFlatL2(dims))
        kmeans.gpu_resources = resources  # keep the GPU memory pool alive with the index
        used = f"cuda:{gpu_id}"
    rows = np.ascontiguousarray(train_X, dtype=np.float32)
    kmeans.train(rows)
    sq_dist, train_assign = kmeans.assign(rows)
    eval_assign = None
    if eval_X is not None:
        eval_assign = kmeans.assign(np.ascontiguousarray(eval_X, dtype=np.float32))[1]
        eval_assign = eval_assign.astype(np.int64)
    return Clustering(
        train_assign=train_assign.astype(np.int64),
        eval_assign=eval_assign,
        n_iter=len(kmeans.iteration_stats),
        # float32 distances via |x|^2 + |c|^2 - 2 x.c can round just below zero.
        inertia=float(np.maximum(sq_dist, 0.0).sum(dtype=np.float64)) / n,
        device=used,
        fit_dtype="float32",
    )


def _gpu_id(device: str) -> int | None:
    """The CUDA device number of ``cuda[:N]``, or None for ``cpu``."""
    if not device.startswith("cuda"):
        return None
    return int(device.partition(":")[2] or 0)
