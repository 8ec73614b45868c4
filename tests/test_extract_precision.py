"""Reduced-precision compute (``--dtype-compute``): refused where it cannot run, recorded in
the provenance with its measured deviation where it does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from lwa_cli.demo.corpus import write_demo_corpus
from lwa_cli.demo.models import write_demo_models
from lwa_cli.errors import LwaUsageError
from lwa_cli.pipeline.extract import extract_features
from lwa_cli.pipeline.prepare import prepare_alignments
from lwa_cli.pipeline.sample import sample_frames
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import partial_path

M = "demo_wavlm"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("precision")
    corpus = write_demo_corpus(root / "c")
    write_demo_models(root / "m")
    ws = Workspace(root / "ws")
    prepare_alignments(ws, corpus.corpus_root, corpus.alignments_root, ["dev-clean"])
    sample_frames(ws, "dev-clean", "1", utterances=4, seed=0)
    return root


def extract(root: Path, base: Path, **kw):
    ws = Workspace(shutil.copytree(base / "ws", root))
    return ws, extract_features(ws, model=M, checkpoint=base / "m" / f"{M}.pt",
                                split="dev-clean", sample="1", span="frame", layers=["T0-T2"],
                                device="cpu", **kw)


def test_float16_on_the_cpu_is_refused_before_anything_is_written(base, tmp_path):
    with pytest.raises(LwaUsageError, match=r"float16.*GPU only.*bfloat16"):
        extract(tmp_path / "ws", base, dtype_compute="float16")
    target = Workspace(tmp_path / "ws").features_path(M, "dev-clean", "1", "frame")
    assert not target.exists() and not partial_path(target).exists()
    with pytest.raises(LwaUsageError, match="dtype_compute='int8' is not one of"):
        extract(tmp_path / "ws2", base, dtype_compute="int8")


def test_bfloat16_is_recorded_with_its_measured_deviation(base, tmp_path):
    _, exact = extract(tmp_path / "a", base)
    _, low = extract(tmp_path / "b", base, dtype_compute="bfloat16")
    with h5py.File(exact.path) as a, h5py.File(low.path) as b:
        meta = json.loads(b.attrs["meta"])
        assert meta["dtype_compute"] == "bfloat16"
        assert "dtype_compute" not in json.loads(a.attrs["meta"])  # float32: meta unchanged
        record = json.loads(b.attrs["summary"])["dtype_compute"]
        assert record["dtype"] == "bfloat16"
        assert json.loads(a.attrs["summary"])["dtype_compute"] is None
        # The deviation was measured on the sample's first 3 utterances, all extracted here:
        # the stored rows of those utterances differ from float32 by exactly that much.
        units = a["units/index"][...].tolist()
        assert units == b["units/index"][...].tolist()
        n = a["units/rows"][...][:, 0]
        first3 = int(sum(n[units.index(u)] for u in range(3)))
        pos = [units.index(u) for u in range(3)]
        assert pos == [0, 1, 2]  # canonical order: sample order
        for layer in ("T0", "T2"):
            got = np.abs(a[f"features/{layer}"][:first3].astype(np.float64)
                         - b[f"features/{layer}"][:first3]).max()
            assert got == pytest.approx(record["max_delta"][layer], rel=1e-6)
            assert got > 0  # bfloat16 really ran: the frames differ from float32
