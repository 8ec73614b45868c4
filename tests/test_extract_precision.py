"""Reduced-precision compute (``--dtype-compute``): refused where it cannot run, recorded in
the provenance with its measured deviation where it does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from lwa_cli.errors import LwaUsageError
from lwa_cli.models.precision import PRECISION_LIMIT, precision_record
from lwa_cli.pipeline.extract import extract_features
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import partial_path
from tests.conftest import linked_frame_workspace

M = "demo_wavlm"


@pytest.fixture(scope="module")
def base(tmp_path_factory, demo_corpus, demo_models) -> Path:
    return linked_frame_workspace(tmp_path_factory.mktemp("precision"), demo_corpus,
                                  demo_models[M].parent, utterances=4)


CHECKPOINTS = {M: f"{M}.pt", "demo_whisper": "demo_whisper"}


def extract(root: Path, base: Path, model: str = M, **kw):
    ws = Workspace(shutil.copytree(base / "ws", root))
    return ws, extract_features(ws, model=model, checkpoint=base / "m" / CHECKPOINTS[model],
                                split="dev-clean", sample="1", span="frame", layers=["T0-T2"],
                                device="cpu", **kw)


def test_float16_on_the_cpu_is_refused_before_anything_is_written(base, tmp_path):
    with pytest.raises(LwaUsageError, match=r"float16.*GPU only.*bfloat16"):
        extract(tmp_path / "ws", base, dtype_compute="float16")
    target = Workspace(tmp_path / "ws").features_path(M, "dev-clean", "1", "frame")
    assert not target.exists() and not partial_path(target).exists()
    with pytest.raises(LwaUsageError, match="dtype_compute='int8' is not one of"):
        extract(tmp_path / "ws2", base, dtype_compute="int8")


def test_the_record_falls_back_to_float32_beyond_the_limit():
    ok = precision_record("bfloat16", {"T0": 0.02, "T1": 0.5}, {"T0": 0.01, "T1": 0.06})
    assert (ok["used"], ok["worst_layer"], ok["reason"]) == ("bfloat16", "T1", "")
    assert ok["limit"] == PRECISION_LIMIT == 0.10
    bad = precision_record("bfloat16", {"T0": 0.02, "T1": 2.7}, {"T0": 0.01, "T1": 0.41})
    assert bad["used"] == "float32"
    assert bad["reason"] == ("bfloat16 compute changes T1 by 41% of its RMS (limit 10%), more "
                             "than rounding explains")
    edge = precision_record("float16", {"T0": 1.0}, {"T0": 0.10})
    assert edge["used"] == "float16"  # the limit itself is accepted


def _stored(path: str) -> tuple[dict, dict, dict[str, np.ndarray]]:
    with h5py.File(path) as f:
        layers = {k: f[f"features/{k}"][...] for k in f["features"]}
        return json.loads(f.attrs["meta"]), json.loads(f.attrs["summary"]), layers


def _first_rows(path: str, n_units: int) -> int:
    with h5py.File(path) as f:
        assert f["units/index"][:n_units].tolist() == list(range(n_units))  # sample order
        return int(f["units/rows"][:n_units, 0].sum())


@pytest.mark.parametrize("model", [M, "demo_whisper"])
def test_bfloat16_is_recorded_with_its_measured_deviation(base, tmp_path, model):
    """Whichever way the check goes, the file says what its rows were computed with.

    With torch 2.13 on the CPU the demo WavLM falls back (its grouped positional conv1d is
    broken in bfloat16: T layers move by ~28%) and the demo Whisper runs in bfloat16."""
    _, exact = extract(tmp_path / "a", base, model=model)
    _, low = extract(tmp_path / "b", base, model=model, dtype_compute="bfloat16")
    meta_a, summary_a, rows_a = _stored(exact.path)
    meta_b, summary_b, rows_b = _stored(low.path)
    assert "dtype_compute" not in meta_a and summary_a["dtype_compute"] is None
    record = summary_b["dtype_compute"]
    assert record["dtype"] == "bfloat16" and record["limit"] == PRECISION_LIMIT
    worst = max(record["relative"].values())
    # The deviation was measured on the sample's first 3 utterances, all extracted here.
    first3 = _first_rows(exact.path, 3)
    if record["used"] == "bfloat16":
        assert worst <= PRECISION_LIMIT and meta_b["dtype_compute"] == "bfloat16"
        for layer in ("T0", "T2"):
            a, b = rows_a[layer][:first3].astype(np.float64), rows_b[layer][:first3]
            assert np.abs(a - b).max() == pytest.approx(record["max_delta"][layer], rel=1e-6)
            assert np.abs(a - b).max() > 0  # bfloat16 really ran
    else:
        assert worst > PRECISION_LIMIT and record["used"] == "float32"
        assert record["reason"].startswith("bfloat16 compute changes")
        assert "dtype_compute" not in meta_b  # the rows are float32 ones, bit for bit
        assert all((rows_a[k] == rows_b[k]).all() for k in rows_a)
    expected = {M: "float32", "demo_whisper": "bfloat16"}[model]
    assert record["used"] == expected, record  # torch 2.13 CPU (see the docstring)
