"""Shared test fixtures.

The demo corpus and the demo models are built once per session and are read-only: a test
that needs to change them takes its own copy with ``private_copy``. Their content hash is
checked when the session ends, so a test that writes into them fails the run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lwa_cli.demo.corpus import DemoCorpus, write_demo_corpus

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """The reference implementation's golden vectors (read-only, never edited)."""
    path = Path(os.environ.get("LWA_GOLDEN", REPO_ROOT.parent / "shared" / "golden"))
    if not (path / "README.md").is_file():
        pytest.fail(f"golden files not found at {path}; set LWA_GOLDEN to shared/golden")
    return path


def tree_digest(root: Path) -> str:
    """SHA-256 over the relative paths, kinds and contents of everything under ``root``."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        if path.is_file():
            h.update(b"f" + path.read_bytes())
        else:
            h.update(b"d" if path.is_dir() else b"o")
    return h.hexdigest()


def _read_only(root: Path, what: str) -> Iterator[Path]:
    digest = tree_digest(root)
    yield root
    assert tree_digest(root) == digest, (
        f"a test changed the shared {what} at {root}; use the private_copy fixture instead")


@pytest.fixture(scope="session")
def _demo_corpus_dir(tmp_path_factory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("shared-demo-corpus") / "c"
    write_demo_corpus(root)
    yield from _read_only(root, "demo corpus")


@pytest.fixture(scope="session")
def demo_corpus(_demo_corpus_dir: Path) -> DemoCorpus:
    """The demo corpus, written once per session (read-only): ``.root`` holds
    ``LibriSpeech/`` (``.corpus_root``) and ``alignments/`` (``.alignments_root``)."""
    return write_demo_corpus(_demo_corpus_dir)  # a matching tree is left as it is


def _models_fixture(seed: int):
    @pytest.fixture(scope="session")
    def fixture(tmp_path_factory) -> Iterator[dict[str, Path]]:
        from lwa_cli.demo.models import write_demo_models

        root = tmp_path_factory.mktemp(f"shared-demo-models-{seed}") / "m"
        paths = write_demo_models(root, seed=seed)
        for _ in _read_only(root, f"demo models (seed {seed})"):
            yield paths

    fixture.__doc__ = (f"The three demo checkpoints of seed {seed}, written once per session "
                       "(read-only): name -> path; all in one directory.")
    return fixture


demo_models = _models_fixture(0)
demo_models_seed1 = _models_fixture(1)


def linked_frame_workspace(root: Path, corpus: DemoCorpus, models_dir: Path,
                           utterances: int = 6) -> Path:
    """`root` with the shared demo corpus and models linked as ``c/`` and ``m/`` and a
    workspace ``ws/`` holding dev-clean alignments and a frame sample of `utterances`."""
    from lwa_cli.pipeline.prepare import prepare_alignments
    from lwa_cli.pipeline.sample import sample_frames
    from lwa_cli.workspace import Workspace

    (root / "c").symlink_to(corpus.root)
    (root / "m").symlink_to(models_dir)
    ws = Workspace(root / "ws")
    prepare_alignments(ws, corpus.corpus_root, corpus.alignments_root, ["dev-clean"])
    sample_frames(ws, "dev-clean", "1", utterances=utterances, seed=0)
    return root


@pytest.fixture
def private_copy(tmp_path: Path) -> Callable[..., Path]:
    """``private_copy(src, name=None)``: a writable copy of a file or tree (e.g. a shared demo
    checkpoint) under this test's ``tmp_path``; returns its path."""

    def copy(src: Path, name: str | None = None) -> Path:
        dest = tmp_path / "private" / (name or Path(src).name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if Path(src).is_dir():
            shutil.copytree(src, dest)
        else:
            shutil.copy2(src, dest)
        return dest

    return copy


def pytest_configure(config: pytest.Config) -> None:
    """One torch thread: the tests run tiny models, where a second intra-op thread only adds
    synchronisation cost (and stalls badly when the other core is busy)."""
    import torch

    torch.set_num_threads(1)
