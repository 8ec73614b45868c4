"""k-means backends of the MI analysis: determinism under a seed, quality on separated data,
the float32/float64 fit, faiss (skipped when it is not installed) and bad settings."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from lwa_cli.analysis.mi import cluster_assignments, mi_score, normalized_mi
from lwa_cli.analysis.mi.kmeans import FAISS_NITER, KMEANS, fit_assign
from lwa_cli.errors import LwaError, LwaUsageError

try:
    import faiss  # noqa: F401
    HAVE_FAISS = True
except ImportError:
    HAVE_FAISS = False
needs_faiss = pytest.mark.skipif(not HAVE_FAISS, reason="faiss is not installed "
                                 "(pip install faiss-cpu) so the faiss backend cannot run")
SKLEARN_KINDS = ("minibatch", "full", "lloyd")
ALL_KINDS = [*SKLEARN_KINDS, pytest.param("faiss", marks=needs_faiss)]


def _separated(n_per: int = 60, n_classes: int = 10, dims: int = 16,
               seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Float32 Gaussian blobs whose centres lie 40 noise s.d. apart: any k-means finds them."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=20.0, size=(n_classes, dims))
    labels = np.repeat(np.arange(n_classes), n_per)
    x = centres[labels] + rng.normal(size=(labels.size, dims))
    order = rng.permutation(labels.size)
    return x[order].astype(np.float32), labels[order]


def test_choices_are_the_documented_four() -> None:
    assert KMEANS == ("minibatch", "full", "lloyd", "faiss")


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_each_backend_repeats_exactly_under_a_seed(kind: str) -> None:
    x, _ = _separated()
    runs = [fit_assign(x, x[:100], n_clusters=25, kmeans=kind, batch_size=200, seed=s)
            for s in (3, 3, 4)]
    np.testing.assert_array_equal(runs[0].train_assign, runs[1].train_assign)
    np.testing.assert_array_equal(runs[0].eval_assign, runs[1].eval_assign)
    assert runs[0].inertia == runs[1].inertia and runs[0].n_iter == runs[1].n_iter
    # 25 clusters on 10 blobs: where the blobs get split depends on the seed.
    assert not np.array_equal(runs[0].train_assign, runs[2].train_assign)
    assert runs[0].train_assign.dtype == np.int64 and runs[0].train_assign.max() < 25


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_well_separated_blobs_give_mi_near_one(kind: str) -> None:
    x, labels = _separated()
    eval_x, eval_labels = _separated(n_per=20, seed=7)  # same centres, fresh noise
    # 30 clusters on 10 blobs: a random start covers every blob, and no converged cluster
    # straddles two blobs 40 s.d. apart, so the clusters refine the labels (MI = H).
    result = mi_score(x, labels, eval_x, eval_labels, n_clusters=30, kmeans=kind,
                      batch_size=200, seed=0)
    assert result.score > 0.999
    assert result.kmeans == kind and result.path == "eval" and result.device == "cpu"
    assert result.fit_dtype == ("float32" if kind == "faiss" else "float64")
    assert result.n_iter >= 1
    # Unit noise in 16 dims, blobs split in about three: a little under 16 per row.
    assert 10.0 < result.inertia < 16.0


def test_eval_rows_get_the_nearest_fitted_centroid() -> None:
    x, _ = _separated()
    done = fit_assign(x, x[::-1], n_clusters=10, kmeans="lloyd", seed=1)
    # Eval = training rows reversed: the same centroids must come back for the same rows.
    np.testing.assert_array_equal(done.eval_assign, done.train_assign[::-1])


@pytest.mark.parametrize("kind", SKLEARN_KINDS)
def test_float32_fit_is_the_reference_arithmetic_and_close_to_float64(kind: str) -> None:
    x, labels = _separated()
    r32 = mi_score(x, labels, n_clusters=12, kmeans=kind, batch_size=200, seed=2,
                   fit_dtype="float32")
    r64 = mi_score(x, labels, n_clusters=12, kmeans=kind, batch_size=200, seed=2)
    assert (r32.fit_dtype, r64.fit_dtype) == ("float32", "float64")
    assert r32.score == pytest.approx(r64.score, abs=0.05)
    assert r32.inertia == pytest.approx(r64.inertia, rel=0.2)


def test_converged_backends_beat_minibatch_inertia_on_many_clusters() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1500, 8)).astype(np.float32)
    got = {kind: fit_assign(x, None, n_clusters=150, kmeans=kind, batch_size=300, seed=0)
           for kind in SKLEARN_KINDS}
    assert got["full"].inertia < got["minibatch"].inertia
    assert got["lloyd"].inertia < got["minibatch"].inertia


@needs_faiss
def test_faiss_iterations_and_cuda_falls_back_without_gpu_faiss() -> None:
    import faiss

    rng = np.random.default_rng(0)
    noise = rng.standard_normal((600, 16)).astype(np.float32)
    # Unstructured data keeps improving: faiss runs exactly niter iterations ...
    assert fit_assign(noise, None, n_clusters=10, kmeans="faiss", seed=0).n_iter == FAISS_NITER
    assert fit_assign(noise, None, n_clusters=10, kmeans="faiss", niter=5, seed=0).n_iter == 5
    x, labels = _separated()
    # ... and stops early once an iteration no longer lowers the objective.
    assert fit_assign(x, None, n_clusters=30, kmeans="faiss", seed=0).n_iter < FAISS_NITER
    # A seed above faiss's C int range still works (the pipeline draws 32-bit seeds).
    big = fit_assign(x, None, n_clusters=30, kmeans="faiss", seed=2**32 - 1)
    assert normalized_mi(big.train_assign, labels) > 0.999
    if faiss.get_num_gpus() == 0:
        on_cuda = fit_assign(x, None, n_clusters=10, kmeans="faiss", seed=0, device="cuda")
        assert on_cuda.device == "cpu"
        np.testing.assert_array_equal(
            on_cuda.train_assign, fit_assign(x, None, n_clusters=10, kmeans="faiss",
                                             seed=0).train_assign)


def test_missing_faiss_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    x, labels = _separated()
    monkeypatch.setitem(sys.modules, "faiss", None)  # makes `import faiss` raise ImportError
    with pytest.raises(LwaError, match=r"pip install faiss-cpu"):
        mi_score(x, labels, n_clusters=10, kmeans="faiss")


def test_bad_backend_settings_are_usage_errors() -> None:
    x, labels = _separated()
    with pytest.raises(LwaUsageError, match="kmeans='kmedoids' is not one of "
                       "minibatch, full, lloyd, faiss"):
        mi_score(x, labels, n_clusters=10, kmeans="kmedoids")  # type: ignore[arg-type]
    with pytest.raises(LwaUsageError, match="fit_dtype='float16' is not one of float64, float32"):
        mi_score(x, labels, n_clusters=10, fit_dtype="float16")  # type: ignore[arg-type]
    with pytest.raises(LwaUsageError, match="device='gpu' is not one of cpu, cuda, cuda:N"):
        cluster_assignments(x, n_clusters=10, device="gpu")
    with pytest.raises(LwaUsageError, match="niter=0 must be a positive integer"):
        cluster_assignments(x, n_clusters=10, kmeans="faiss", niter=0)


@needs_faiss
def test_faiss_moves_its_index_to_the_requested_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """GPU wiring with a stand-in GPU: faiss reports one GPU and 'moves' the index as is."""
    import faiss

    moved: list[int] = []

    def to_gpu(resources: object, gpu: int, index: object) -> object:
        moved.append(gpu)
        return index

    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1)
    monkeypatch.setattr(faiss, "StandardGpuResources", object, raising=False)  # GPU builds only
    monkeypatch.setattr(faiss, "index_cpu_to_gpu", to_gpu, raising=False)
    x, _ = _separated()
    on_gpu = fit_assign(x, x[:50], n_clusters=30, kmeans="faiss", seed=0, device="cuda")
    assert on_gpu.device == "cuda:0" and moved == [0]
    on_cpu = fit_assign(x, x[:50], n_clusters=30, kmeans="faiss", seed=0)
    assert on_cpu.device == "cpu" and moved == [0]
    np.testing.assert_array_equal(on_gpu.train_assign, on_cpu.train_assign)
    with pytest.raises(LwaUsageError, match=r"device='cuda:1' asks for GPU 1 but faiss sees 1"):
        fit_assign(x, None, n_clusters=30, kmeans="faiss", device="cuda:1")
