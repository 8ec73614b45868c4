"""The bundled demo corpus: synthetic speech in LibriSpeech layout with exact MFA-style TextGrids.

The data (``lwa_cli/demo/corpus_data``) was made once by ``scripts/make_demo_corpus.py`` with
the festival synthesiser and ships inside the package, so the whole pipeline can run without
downloading LibriSpeech. ``MANIFEST.json`` lists every file with its sha256; copies are checked
against it. Being synthetic speech, it shows that the pipeline works, not facts about speech.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lwa_cli.errors import LwaError

if TYPE_CHECKING:  # importlib.resources.abc is Python >= 3.11; only needed for annotations
    from importlib.resources.abc import Traversable

#: Directory of the bundled data inside the ``lwa_cli.demo`` package.
DATA_DIR = "corpus_data"
#: The two trees that :func:`write_demo_corpus` copies.
CORPUS_DIR = "LibriSpeech"
ALIGNMENTS_DIR = "alignments"
MANIFEST_NAME = "MANIFEST.json"


@dataclass(frozen=True)
class DemoCorpus:
    """Where a copy of the demo corpus lives.

    Attributes
    ----------
    root : Path
        The directory it was written to.
    corpus_root : Path
        ``root/LibriSpeech``: audio and transcripts in LibriSpeech layout.
    alignments_root : Path
        ``root/alignments``: TextGrids, ``<split>/<speaker>/<chapter>/<utt>.TextGrid``.
    splits : tuple of str
        Split names, e.g. ``("dev-clean", "train-clean-100")``.
    """

    root: Path
    corpus_root: Path
    alignments_root: Path
    splits: tuple[str, ...]


def _bundle() -> Traversable:
    """The bundled data directory as an importlib resource."""
    return resources.files("lwa_cli.demo").joinpath(DATA_DIR)


def _resource(rel: str) -> Traversable:
    """A bundled file by its manifest path (``a/b/c``); joined part by part for Python 3.10."""
    node = _bundle()
    for part in rel.split("/"):
        node = node.joinpath(part)
    return node


def bundled_corpus_path() -> Path:
    """The directory of the bundled demo corpus on disk.

    Returns
    -------
    Path
        Directory holding ``LibriSpeech/``, ``alignments/``, ``MANIFEST.json`` and ``README.md``.

    Raises
    ------
    LwaError
        If the package is not installed as plain files (e.g. from a zip) or the data is missing.
    """
    path = Path(str(_bundle()))
    if not (path / MANIFEST_NAME).is_file():
        raise LwaError(
            f"the bundled demo corpus is not available as files at {path}; reinstall lwa from "
            "a wheel or source checkout, or use write_demo_corpus() to copy it out"
        )
    return path


def bundled_manifest() -> dict[str, Any]:
    """The bundled ``MANIFEST.json`` (splits, speakers, durations, sha256 of every file).

    Raises
    ------
    LwaError
        If the manifest is missing or not valid JSON.
    """
    node = _resource(MANIFEST_NAME)
    try:
        return json.loads(node.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise LwaError(f"cannot read the demo corpus manifest ({err}); reinstall lwa") from err


def _copied_files(manifest: dict[str, Any], tree: str) -> dict[str, str]:
    """Manifest entries (path relative to ``tree`` → sha256) of one copied tree."""
    prefix = tree + "/"
    return {
        rel[len(prefix) :]: digest
        for rel, digest in manifest["files"].items()
        if rel.startswith(prefix)
    }


def _sha256(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _matches(target: Path, files: dict[str, str]) -> bool:
    """Whether ``target`` holds exactly ``files`` (relative path → sha256), nothing else."""
    present = {p.relative_to(target).as_posix(): p for p in target.rglob("*") if p.is_file()}
    if set(present) != set(files):
        return False
    return all(_sha256(present[rel].read_bytes()) == files[rel] for rel in files)


def _copy_tree(tree: str, files: dict[str, str], staging: Path) -> Path:
    """Copy one bundled tree into ``staging/tree``, checking every file's sha256."""
    out = staging / tree
    for rel, digest in sorted(files.items()):
        data = _resource(f"{tree}/{rel}").read_bytes()
        if _sha256(data) != digest:
            raise LwaError(
                f"bundled demo file {tree}/{rel} does not match its manifest checksum; "
                "the installation is damaged, reinstall lwa"
            )
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return out


def write_demo_corpus(dest: Path, force: bool = False) -> DemoCorpus:
    """Copy the bundled demo corpus (``LibriSpeech/`` and ``alignments/``) into ``dest``.

    A tree that already holds exactly the bundled files is left as it is, so repeated calls
    are cheap. Files are staged inside ``dest`` and moved into place, so an interrupted copy
    never leaves a half-written tree under the final name. Other contents of ``dest`` are never
    touched.

    Parameters
    ----------
    dest : Path
        Target directory (created if needed).
    force : bool
        Replace ``dest/LibriSpeech`` or ``dest/alignments`` when they hold other content.

    Returns
    -------
    DemoCorpus
        Paths of the copy and the split names.

    Raises
    ------
    LwaError
        If ``dest`` is a file, or a target tree holds different content and ``force`` is
        false, or the bundled data is damaged.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise LwaError(f"demo corpus destination {dest} is a file; choose a directory")
    manifest = bundled_manifest()
    trees = {tree: _copied_files(manifest, tree) for tree in (CORPUS_DIR, ALIGNMENTS_DIR)}
    todo = []
    for tree, files in trees.items():
        target = dest / tree
        if target.exists() and any(target.iterdir()):
            if _matches(target, files):
                continue
            if not force:
                raise LwaError(
                    f"{target} already holds other content than the demo corpus; choose an "
                    "empty directory or pass force=True (--force) to replace it"
                )
        todo.append(tree)
    if todo:
        dest.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".lwa-demo-", dir=dest))
        try:
            for tree in todo:
                copied = _copy_tree(tree, trees[tree], staging)
                target = dest / tree
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
                os.replace(copied, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return DemoCorpus(
        root=dest,
        corpus_root=dest / CORPUS_DIR,
        alignments_root=dest / ALIGNMENTS_DIR,
        splits=tuple(manifest["splits"]),
    )
