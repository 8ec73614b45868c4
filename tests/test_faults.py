"""Concurrency and I/O faults leave the workspace intact and say what happened in one line.

Two extractions of one target, a sample replaced under a running extraction, a read-only
workspace, a full disk, corrupt checkpoints: each ends with a clear error (never a signal,
never "internal error") and finished work is kept.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from lwa_cli.errors import LwaError
from lwa_cli.pipeline.extract import extract_features
from lwa_cli.pipeline.sample import sample_frames
from lwa_cli.progress import Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import partial_path
from lwa_cli.workspace.locks import ArtefactBusyError, read_lock, write_lock
from lwa_cli.workspace.samples import load_sample, save_sample
from tests.cli_runner import lwa_command
from tests.conftest import linked_frame_workspace

M = "demo_wav2vec2"


@pytest.fixture(scope="module")
def base(tmp_path_factory, demo_corpus, demo_models) -> Path:
    """Demo corpus + models (shared, linked as c/ and m/) and a prepared workspace with a
    6-utterance frame sample."""
    return linked_frame_workspace(tmp_path_factory.mktemp("faults"), demo_corpus,
                                  demo_models[M].parent)


@pytest.fixture()
def ws(base, tmp_path) -> Workspace:
    shutil.copytree(base / "ws", tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def ckpt(base: Path) -> Path:
    return base / "m" / M


def extract(ws: Workspace, base: Path, **kw):
    return extract_features(ws, model=M, checkpoint=ckpt(base), split="dev-clean",
                            sample="1", span="frame", layers=["T0-T2"], device="cpu", **kw)


def features_of(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        return {name: f[f"features/{name}"][...] for name in f["features"]}


@pytest.fixture(scope="module")
def reference(base, tmp_path_factory) -> dict[str, np.ndarray]:
    """The features of an uninterrupted extraction."""
    dest = tmp_path_factory.mktemp("ref") / "ws"
    shutil.copytree(base / "ws", dest)
    summary = extract(Workspace(dest), base)
    return features_of(Path(summary.path))


def run(ws: Workspace, base: Path, *extra: str, timeout: int = 300) -> subprocess.Popen:
    return subprocess.Popen(
        [*lwa_command(), "-w", str(ws.root), "--threads", "1", *extra, "extract", "--model", M,
         "--checkpoint", str(ckpt(base)), "--split", "dev-clean", "--span", "frame",
         "--layer", "T0-T2", "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def test_a_second_writer_is_refused_while_the_first_holds_the_target(ws, base, reference):
    target = ws.features_path(M, "dev-clean", "1", "frame")
    with write_lock(target):  # this test process plays the first extraction
        proc = run(ws, base)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, err
        assert f"in use by another lwa process (pid {os.getpid()})" in err
        assert "--wait" in err and "internal error" not in err
        assert not target.exists() and not partial_path(target).exists()
    # --wait blocks until the holder lets go, then does the work.
    holder = threading.Event()

    def hold() -> None:
        with write_lock(target):
            holder.set()
            time.sleep(2.0)

    thread = threading.Thread(target=hold)
    thread.start()
    holder.wait()
    proc = run(ws, base, "--wait")
    out, err = proc.communicate(timeout=300)
    thread.join()
    assert proc.returncode == 0, err
    got = features_of(target)
    assert got.keys() == reference.keys()
    for name in got:
        np.testing.assert_array_equal(got[name], reference[name])


def test_two_concurrent_extractions_of_one_target(ws, base, reference):
    procs = [run(ws, base), run(ws, base)]
    results = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    errors = "".join(err for _, err in results)
    # Either both ran (one after the other: the second found the file done) or one was
    # refused; never a crash, never a damaged file.
    assert codes in ([0, 0], [0, 1]), errors
    if codes == [0, 1]:
        assert "in use by another lwa process" in errors
    assert "internal error" not in errors and "Traceback" not in errors
    target = ws.features_path(M, "dev-clean", "1", "frame")
    got = features_of(target)
    for name in reference:
        np.testing.assert_array_equal(got[name], reference[name])


def test_a_sample_cannot_be_replaced_while_an_extraction_reads_it(ws, base):
    sample_file = ws.sample_path("dev-clean", "frame", "1")
    with read_lock(sample_file):  # an extraction is reading it
        with pytest.raises(ArtefactBusyError, match="in use by another lwa process"):
            sample_frames(ws, "dev-clean", "1", utterances=4, seed=0, force=True)
    assert load_sample(ws, "dev-clean", "frame", "1").utt_ids.size == 6


def test_a_sample_replaced_behind_lwa_is_caught_before_commit(ws, base):
    other = sample_frames(ws, "dev-clean", "2", utterances=6, seed=7)

    class Replacer(Reporter):
        def __init__(self) -> None:
            self.done = False

        def task(self, description, total, unit=""):
            parent = super().task(description, total, unit)
            reporter = self

            class Wrapped:
                def __enter__(self):
                    self.inner = parent.__enter__()

                    def advance(n=1, seconds=0.0):
                        if not reporter.done:  # overwrite sample 1 with other content
                            reporter.done = True
                            from dataclasses import replace
                            save_sample(ws, replace(other, name="1"), alignments={})
                        return self.inner(n, seconds)
                    return advance

                def __exit__(self, *exc):
                    return parent.__exit__(*exc)

            return Wrapped()

    with pytest.raises(LwaError, match="was replaced while this extraction ran"):
        extract(ws, base, reporter=Replacer())
    assert not ws.features_path(M, "dev-clean", "1", "frame").exists()


def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True)
    return done.returncode == 0


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_read_only_workspace_is_one_clear_line(ws, base, tmp_path):
    if _can_mount():
        mnt = tmp_path / "ro"
        if not _mount_tmpfs(mnt, "64m"):
            pytest.skip("cannot mount a tmpfs here")
        try:
            shutil.copytree(ws.root, mnt / "ws")
            subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
            root = mnt / "ws"
            done = subprocess.run([*lwa_command(), "-w", str(root), "sample", "frame", "--split",
                                   "dev-clean", "--utterances", "3", "--sample", "9"],
                                  capture_output=True, text=True, timeout=120)
        finally:
            _umount(mnt)
    elif os.geteuid() != 0:
        root = ws.root
        for path in [root, *root.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        done = subprocess.run([*lwa_command(), "-w", str(root), "sample", "frame", "--split",
                               "dev-clean", "--utterances", "3", "--sample", "9"],
                              capture_output=True, text=True, timeout=120)
    else:
        pytest.skip("root without mount: no way to make a read-only directory")
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: cannot write to the workspace")
    assert "read-only file system" in done.stderr or "permission denied" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_disk_full_keeps_the_partial_file_and_a_rerun_resumes(base, tmp_path, reference):
    if not _can_mount():
        pytest.skip("needs root to mount a small tmpfs")
    mnt = tmp_path / "small"
    if not _mount_tmpfs(mnt, "48m"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        shutil.copytree(base / "ws", mnt / "ws")
        ws = Workspace(mnt / "ws")
        target = ws.features_path(M, "dev-clean", "1", "frame")
        whole = sum(a.nbytes for a in reference.values())
        free = shutil.disk_usage(mnt).free
        # Leave room for about half of the features (plus the reserve the writer keeps).
        filler = mnt / "filler"
        filler.write_bytes(b"\0" * max(0, free - whole // 2 - 4 * 2**20))
        proc = subprocess.run([*lwa_command(), "-w", str(ws.root), "--threads", "1", "extract",
                               "--model", M, "--checkpoint", str(ckpt(base)), "--split",
                               "dev-clean", "--span", "frame", "--layer", "T0-T2",
                               "--device", "cpu"], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 1, (proc.returncode, proc.stderr)  # not 139 (SIGSEGV)
        assert "no space left on the device" in proc.stderr
        assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
        assert partial_path(target).exists() and not target.exists()
        filler.unlink()
        proc = subprocess.run([*lwa_command(), "-w", str(ws.root), "--threads", "1", "extract",
                               "--model", M, "--checkpoint", str(ckpt(base)), "--split",
                               "dev-clean", "--span", "frame", "--layer", "T0-T2",
                               "--device", "cpu"], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert "resuming frame.h5" in proc.stderr
        got = features_of(target)
        for name in reference:
            np.testing.assert_array_equal(got[name], reference[name])
    finally:
        _umount(mnt)


@pytest.mark.parametrize("kind", ["safetensors", "pt"])
def test_corrupt_checkpoints_name_the_file(base, tmp_path, kind):
    from lwa_cli.models.loading import load_model

    if kind == "safetensors":
        model_dir = tmp_path / "hf"
        shutil.copytree(ckpt(base), model_dir)
        weights = next(model_dir.glob("*.safetensors"))
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        path, name = model_dir, M
    else:
        path = tmp_path / "hubert.pt"
        data = (base / "m" / "demo_hubert.pt").read_bytes()
        path.write_bytes(data[: len(data) // 2])
        name = "demo_hubert"
    with pytest.raises(LwaError) as err:
        load_model(name, path)
    assert str(path) in str(err.value) and "cannot read checkpoint" in str(err.value)
    if kind == "safetensors":
        assert "corrupt or truncated" in str(err.value)
