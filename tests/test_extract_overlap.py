"""Overlapped extraction (pipeline/extract_io.py): same files, errors and kills handled.

Audio is read ahead in one thread and rows are pooled and written behind the forward pass
in another; the files must be bit-identical to the inline run, an error in either thread
must reach the caller with its message, and a run killed with SIGKILL while both threads
are busy must resume to the same file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from lwa_cli.errors import LwaError
from lwa_cli.pipeline import extract as extract_mod
from lwa_cli.pipeline.extract import extract_features
from lwa_cli.pipeline.extract_io import WriteBehind, read_ahead
from lwa_cli.pipeline.sample import sample_phones
from lwa_cli.workspace import Workspace
from lwa_cli.workspace import features as features_mod
from lwa_cli.workspace.core import StorageError
from lwa_cli.workspace.features import partial_path
from tests.conftest import linked_frame_workspace

M = "demo_wav2vec2"


@pytest.fixture(scope="module")
def base(tmp_path_factory, demo_corpus, demo_models) -> Path:
    root = linked_frame_workspace(tmp_path_factory.mktemp("overlap"), demo_corpus,
                                  demo_models[M].parent)
    sample_phones(Workspace(root / "ws"), "dev-clean", "1", seed=1, max_subset_seconds=20)
    return root


@pytest.fixture()
def ws(base, tmp_path) -> Workspace:
    shutil.copytree(base / "ws", tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def extract(ws: Workspace, base: Path, span: str = "frame", **kw):
    return extract_features(ws, model=M, checkpoint=base / "m" / M, split="dev-clean",
                            sample="1", span=span, layers=["T0-T2"], device="cpu", **kw)


def contents(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of a feature file (rows, units, features), by name."""
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[...])
                     if isinstance(obj, h5py.Dataset) else None)
    return out


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].dtype == want[name].dtype, name
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


@pytest.fixture(scope="module")
def reference(base, tmp_path_factory) -> dict[str, np.ndarray]:
    """The frame features of an inline (not overlapped) run."""
    dest = tmp_path_factory.mktemp("ref") / "ws"
    shutil.copytree(base / "ws", dest)
    return contents(Path(extract(Workspace(dest), base, overlap=False).path))


@pytest.mark.parametrize("span, dtype", [("frame", "float32"), ("phone", "float16")])
def test_overlap_on_and_off_write_bit_identical_files(ws, base, tmp_path, span, dtype):
    on = extract(ws, base, span=span, dtype=dtype, overlap=True)
    other = Workspace(shutil.copytree(base / "ws", tmp_path / "ws_off"))
    off = extract(other, base, span=span, dtype=dtype, overlap=False)
    assert (on.units_run, on.rows, on.audio_seconds) == (off.units_run, off.rows,
                                                          off.audio_seconds)
    assert on.units_run == on.units > 1 and on.rows > on.units
    assert_same(contents(Path(on.path)), contents(Path(off.path)))


def test_reader_error_surfaces_with_its_message_and_the_rerun_resumes(ws, base, reference,
                                                                      monkeypatch):
    real = extract_mod.load_audio
    calls: list[str] = []

    def failing(path):
        calls.append(str(path))
        if len(calls) == 4:
            raise LwaError(f"cannot decode {path}: not a RIFF file")
        return real(path)

    monkeypatch.setattr(extract_mod, "load_audio", failing)
    with pytest.raises(LwaError, match=r"cannot decode .*: not a RIFF file") as err:
        extract(ws, base)
    assert calls[3] in str(err.value)
    target = ws.features_path(M, "dev-clean", "1", "frame")
    assert partial_path(target).exists() and not target.exists()
    with h5py.File(partial_path(target), "r") as f:  # the 3 utterances read before it
        assert f["units/index"].shape == (3,)
    monkeypatch.setattr(extract_mod, "load_audio", real)
    summary = extract(ws, base)
    assert summary.status == "resumed" and summary.units_run == summary.units - 3
    assert_same(contents(target), reference)


def test_writer_error_surfaces_in_the_main_thread_and_keeps_finished_units(ws, base,
                                                                           reference,
                                                                           monkeypatch):
    real = features_mod.shutil.disk_usage
    calls: list[int] = []

    class Full:
        free = 1024

    def filling(path):
        calls.append(1)
        return Full() if len(calls) >= 3 else real(path)

    monkeypatch.setattr(features_mod.shutil, "disk_usage", filling)
    with pytest.raises(StorageError, match="no space left on the device"):
        extract(ws, base)
    target = ws.features_path(M, "dev-clean", "1", "frame")
    with h5py.File(partial_path(target), "r") as f:
        assert f["units/index"].shape == (2,)
    monkeypatch.setattr(features_mod.shutil, "disk_usage", real)
    summary = extract(ws, base)
    assert summary.status == "resumed" and summary.units_run == summary.units - 2
    assert_same(contents(target), reference)


KILLER = textwrap.dedent("""
    import os, signal, sys, time
    from lwa_cli.pipeline import extract as extract_mod
    from lwa_cli.workspace.features import FeatureWriter

    written = []
    real_append = FeatureWriter.append
    def counting(self, unit, rows):
        real_append(self, unit, rows)
        written.append(unit)
    FeatureWriter.append = counting

    real_forward = extract_mod.extract_layers
    forwards = []
    def dying(loaded, wave, layers):
        forwards.append(1)
        if len(forwards) == 4:  # SIGKILL once 3 utterances are on disk, reader ahead
            deadline = time.time() + 60
            while len(written) < 3 and time.time() < deadline:
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGKILL)
        return real_forward(loaded, wave, layers)
    extract_mod.extract_layers = dying

    from lwa_cli.cli.main import run
    sys.argv = ["lwa"] + sys.argv[1:]
    run()
""")


def test_sigkill_during_an_overlapped_extraction_resumes_to_the_same_file(ws, base,
                                                                          reference):
    args = ["-w", str(ws.root), "--threads", "1", "extract", "--model", M, "--checkpoint",
            str(base / "m" / M), "--split", "dev-clean", "--span", "frame", "--layer",
            "T0-T2", "--device", "cpu"]
    proc = subprocess.run([sys.executable, "-c", KILLER, *args], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    target = ws.features_path(M, "dev-clean", "1", "frame")
    assert partial_path(target).exists() and not target.exists()
    summary = extract(ws, base)
    assert summary.status == "resumed" and summary.units_run == summary.units - 3
    assert_same(contents(target), reference)


def test_read_ahead_keeps_order_stays_bounded_and_raises_at_the_failing_unit():
    loaded: list[int] = []

    def load(unit: int) -> np.ndarray:
        loaded.append(unit)
        if unit == 7:
            raise ValueError("unit 7 is unreadable")
        return np.full(3, float(unit))

    got = []
    with pytest.raises(ValueError, match="unit 7 is unreadable"):
        for unit, wave in read_ahead(range(10), load, depth=2):
            time.sleep(0.02)  # a slow consumer: the reader must wait, not run away
            # Bounded: one item in hand, `depth` in the queue, one being loaded.
            assert len(loaded) <= unit + 1 + 2 + 1
            got.append((unit, wave[0]))
    assert got == [(u, float(u)) for u in range(7)]
    assert 8 not in loaded  # the reader stopped at the failure
    assert not any(t.name == "lwa-audio-reader" for t in threading.enumerate())


def test_write_behind_writes_in_order_and_finishes_pending_items_on_interrupt():
    done: list[int] = []

    def slow(i: int) -> None:
        time.sleep(0.01)
        done.append(i)

    with pytest.raises(KeyboardInterrupt):
        with WriteBehind(slow, depth=2) as behind:
            for i in range(5):
                behind.submit(i)
            raise KeyboardInterrupt
    assert done == [0, 1, 2, 3, 4]  # everything submitted before the interrupt is kept

    def broken(i: int) -> None:
        if i == 2:
            raise OSError(28, "No space left on device")
        done.append(i)

    done.clear()
    with pytest.raises(OSError, match="No space left"):
        with WriteBehind(broken, depth=1) as behind:
            for i in range(50):
                behind.submit(i)
    assert done == [0, 1]  # nothing is written after the failure
    with pytest.raises(ValueError, match="depth"):
        WriteBehind(slow, depth=0)


def test_overlap_is_on_by_default_only_where_the_threads_have_a_core(monkeypatch):
    from lwa_cli.pipeline import extract_io

    monkeypatch.setattr(extract_io.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert extract_io.overlap_pays("cuda", 2)  # the CPU waits on the device anyway
    assert not extract_io.overlap_pays("cpu", 2)  # torch's threads take both cores
    assert extract_io.overlap_pays("cpu", 1)  # `lwa --threads 1` on 2 cores


def test_memory_is_trimmed_when_it_has_grown_by_the_slack(monkeypatch):
    from lwa_cli.pipeline import extract_io

    # Resident memory after each utterance (the level is never read right after a trim).
    rss = iter([90, 130, 160, 100, 150, 170])
    monkeypatch.setattr(extract_io, "resident_bytes", lambda: next(rss))
    trim = extract_io.MemoryTrim(slack=60)
    calls = []
    trim._trim = lambda: calls.append(1)
    trim()  # the first utterance only measures: 90 is the floor
    assert (len(calls), trim.floor) == (0, 90)
    trim()  # 130: 40 above the floor, within the slack
    assert len(calls) == 0
    trim()  # 160: 70 above, beyond the slack: trims
    assert (len(calls), trim.floor) == (1, None)
    trim()  # the utterance after a trim measures again (working set back in): 100
    assert (len(calls), trim.floor) == (1, 100)
    trim()  # 150: within the slack of 100
    trim()  # 170: 70 above: trims again
    assert len(calls) == 2


RETAIN_PROBE = textwrap.dedent("""
    import sys
    import numpy as np
    from lwa_cli.pipeline.extract_io import resident_bytes, retain_freed_memory

    if sys.argv[1] == "retain":
        assert retain_freed_memory()
    levels = [resident_bytes()]
    for _ in range(2):  # 64 MiB, above glibc's largest dynamic mmap threshold (32 MiB)
        block = np.ones(2**23)
        del block
        levels.append(resident_bytes())
    print(*(b - a for a, b in zip(levels, levels[1:])))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_retained_memory_is_kept_and_reused():
    """`lwa extract` keeps freed activations for the next forward pass: after
    `retain_freed_memory` a freed 64 MiB block stays resident and the next one reuses it
    (no growth), while by default glibc unmaps it at once (and maps it anew next time)."""
    mib = 2**20
    growth = {}
    for mode in ("default", "retain"):
        out = subprocess.run([sys.executable, "-c", RETAIN_PROBE, mode], capture_output=True,
                             text=True, check=True).stdout.split()
        growth[mode] = [int(v) / mib for v in out]
    assert abs(growth["default"][0]) < 8, growth  # given back on free
    assert growth["retain"][0] > 56, growth  # kept on free...
    assert abs(growth["retain"][1]) < 8, growth  # ...and reused by the next block


def test_the_extract_command_retains_freed_memory(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from lwa_cli.cli.main import app
    from lwa_cli.pipeline import extract_io

    calls = []
    monkeypatch.setattr(extract_io, "retain_freed_memory", lambda: calls.append(1) or True)
    result = CliRunner().invoke(app, ["-w", str(tmp_path / "ws"), "extract", "--model",
                                      "wav2vec_base_random", "--split", "nosuch"])
    assert result.exit_code != 0  # no such sample: the point is that it was called first
    assert calls == [1]
