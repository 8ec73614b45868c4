"""Workspace: format checks, atomic writes, resumable feature writer."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from lwa_cli.errors import LwaError
from lwa_cli.workspace import FORMAT_VERSION, Workspace, atomic_h5, open_h5
from lwa_cli.workspace.core import MARKER, check_name
from lwa_cli.workspace.features import FeatureFile, FeatureWriter, partial_path
from lwa_cli.workspace.results import load_results, save_result


def test_ensure_creates_marker_and_check_accepts_it(tmp_path):
    ws = Workspace(tmp_path / "ws").ensure()
    meta = json.loads((ws.root / MARKER).read_text())
    assert meta["format_version"] == FORMAT_VERSION
    assert ws.check() is ws


def test_refuses_foreign_directory_and_other_format(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(LwaError, match="not empty and is not an lwa workspace"):
        Workspace(tmp_path).ensure()
    other = tmp_path / "old"
    other.mkdir()
    (other / MARKER).write_text(json.dumps({"format_version": FORMAT_VERSION + 1}))
    with pytest.raises(LwaError, match=f"format {FORMAT_VERSION + 1}"):
        Workspace(other).check()
    with pytest.raises(LwaError, match="no lwa workspace"):
        Workspace(tmp_path / "missing").check()


def test_crash_mid_write_leaves_previous_file_readable(tmp_path):
    path = tmp_path / "a.h5"
    with atomic_h5(path, "demo") as f:
        f["x"] = np.arange(3)
    with pytest.raises(RuntimeError, match="boom"), atomic_h5(path, "demo") as f:
        f["x"] = np.arange(100)
        raise RuntimeError("boom")
    with open_h5(path, "demo") as f:
        assert f["x"][...].tolist() == [0, 1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["a.h5"]  # no temp file left behind


def test_open_h5_refuses_foreign_wrong_kind_and_version(tmp_path):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    with pytest.raises(LwaError, match="not an lwa file"):
        open_h5(foreign, "demo")
    with atomic_h5(tmp_path / "k.h5", "samples"):
        pass
    with pytest.raises(LwaError, match="holds 'samples' data, expected 'features'"):
        open_h5(tmp_path / "k.h5", "features")
    with h5py.File(tmp_path / "k.h5", "a") as f:
        f.attrs["lwa_format_version"] = 99
    with pytest.raises(LwaError, match="format 99"):
        open_h5(tmp_path / "k.h5", "samples")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(LwaError, match="not a readable HDF5"):
        open_h5(tmp_path / "junk.h5", "demo")


def test_names_that_would_escape_the_workspace_are_refused():
    assert check_name("dev-clean", "split") == "dev-clean"
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(LwaError, match="invalid model"):
            check_name(bad, "model")


def _unit(u: int) -> dict[str, np.ndarray]:
    n = u + 2
    return {"features/T1": np.full((n, 3), u, np.float32),
            "rows/label": np.array([f"w{u}"] * n)}


def test_feature_writer_resumes_and_drops_rows_of_an_unfinished_unit(tmp_path):
    path = tmp_path / "f.h5"
    meta = {"layers": ["T1"], "model": "m"}
    w = FeatureWriter(path, meta)
    w.append(0, _unit(0))
    w.append(1, _unit(1))
    # Simulate a kill in the middle of unit 2: rows written, unit not recorded.
    ds = w._file["features/T1"]
    ds.resize(ds.shape[0] + 4, axis=0)
    w.close()
    assert not path.exists() and partial_path(path).exists()
    w = FeatureWriter(path, meta)
    assert w.resumed and w.done_units == {0, 1}
    assert w._file["features/T1"].shape == (5, 3)
    w.append(2, _unit(2))
    w.finish({"note": 1})
    with FeatureFile(path) as f:
        assert f.features("T1")[:, 0].tolist() == [0, 0, 1, 1, 1, 2, 2, 2, 2]
        assert f.rows("label").tolist()[-1] == "w2"
        assert f.units().tolist() == [0, 1, 2]
        assert f.summary == {"note": 1}
    assert not partial_path(path).exists()


def test_feature_writer_restarts_when_meta_differs_or_file_is_corrupt(tmp_path):
    path = tmp_path / "f.h5"
    w = FeatureWriter(path, {"layers": ["T1"]})
    w.append(0, _unit(0))
    w.close()
    w = FeatureWriter(path, {"layers": ["T2"]})
    assert not w.resumed and w.done_units == set()
    w.close()
    partial_path(path).write_bytes(b"truncated garbage")
    w = FeatureWriter(path, {"layers": ["T2"]})
    assert not w.resumed
    w.close()


def test_feature_writer_float16_storage(tmp_path):
    w = FeatureWriter(tmp_path / "h.h5", {"layers": ["T1"]}, dtype="float16")
    w.append(0, {"features/T1": np.full((2, 3), 0.1, np.float32)})
    w.finish({})
    with FeatureFile(tmp_path / "h.h5") as f:
        assert f.features("T1").dtype == np.float16


def test_feature_writer_grows_extents_ahead_and_finishes_with_exact_rows(tmp_path):
    """Extents run a chunk ahead of the rows (a resize per chunk, not per unit); a resume
    and `finish` cut them back: the file holds exactly the rows appended, in order, and the
    low-level write converts to the storage type as numpy does."""
    path = tmp_path / "g.h5"
    meta = {"layers": ["T1"]}
    rng = np.random.default_rng(0)
    units = [rng.standard_normal((n, 700)).astype(np.float32) for n in (300, 250, 10, 0, 400)]
    w = FeatureWriter(path, meta, dtype="float16")
    for u, arr in enumerate(units[:3]):
        w.append(u, {"features/T1": arr})
    assert w._file["features/T1"].shape[0] > 560  # a 748-row chunk ahead of 300 rows
    w.close()
    w = FeatureWriter(path, meta, dtype="float16")
    assert w.resumed and w._file["features/T1"].shape[0] == 560
    for u, arr in enumerate(units[3:], start=3):
        w.append(u, {"features/T1": arr})
    w.finish({})
    with FeatureFile(path) as f:
        got = f.features("T1")[...]
        assert f.unit_rows()[1][:, 0].tolist() == [300, 250, 10, 0, 400]
    np.testing.assert_array_equal(got, np.concatenate(units).astype(np.float16))


def test_results_one_file_each(tmp_path):
    ws = Workspace(tmp_path / "ws").ensure()
    base = {"analysis": "cca-mel", "model": "m", "split": "dev-clean", "sample": "1"}
    save_result(ws, {**base, "layer": "T1", "score": 0.5})
    save_result(ws, {**base, "layer": "T2", "score": 0.25})
    save_result(ws, {**base, "layer": "T2", "score": 0.75}, tag="iter1")
    scores = sorted(r["score"] for r in load_results(ws))
    assert scores == [0.25, 0.5, 0.75]
