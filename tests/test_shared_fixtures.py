"""The session-wide demo fixtures of conftest.py: what they hold, and that they stay as built."""

from __future__ import annotations

import json

from lwa_cli.demo.corpus import bundled_manifest
from tests.conftest import tree_digest


def test_demo_corpus_is_the_bundled_one(demo_corpus):
    assert demo_corpus.corpus_root == demo_corpus.root / "LibriSpeech"
    assert demo_corpus.alignments_root == demo_corpus.root / "alignments"
    assert demo_corpus.splits == ("dev-clean", "train-clean-100")
    files = [p for p in demo_corpus.root.rglob("*") if p.is_file()]
    flacs = [p for p in files if p.suffix == ".flac"]
    grids = [p for p in files if p.suffix == ".TextGrid"]
    assert flacs and len(grids) == len(flacs)
    listed = {rel for rel in bundled_manifest()["files"]
              if rel.startswith(("LibriSpeech/", "alignments/"))}
    assert {p.relative_to(demo_corpus.root).as_posix() for p in files} == listed


def test_demo_models_are_four_checkpoints_in_one_directory(demo_models, demo_models_seed1):
    assert sorted(demo_models) == ["demo_hubert", "demo_wav2vec2", "demo_wavlm", "demo_whisper"]
    assert len({p.parent for p in demo_models.values()}) == 1
    assert (demo_models["demo_wav2vec2"] / "config.json").is_file()
    assert demo_models["demo_hubert"].suffix == ".pt"
    # the seed-1 set has other weights, in another directory
    assert demo_models_seed1["demo_wav2vec2"].parent != demo_models["demo_wav2vec2"].parent
    assert (demo_models_seed1["demo_hubert"].read_bytes()
            != demo_models["demo_hubert"].read_bytes())


def test_private_copy_is_writable_and_leaves_the_shared_one_alone(demo_models, private_copy):
    shared = demo_models["demo_wav2vec2"]
    before = tree_digest(shared)
    mine = private_copy(shared)
    assert mine != shared and tree_digest(mine) == before
    config = json.loads((mine / "config.json").read_text())
    (mine / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 1}))
    (mine / "extra.txt").write_text("x")
    assert tree_digest(mine) != before and tree_digest(shared) == before
    pt = private_copy(demo_models["demo_hubert"], "h.pt")
    assert pt.name == "h.pt" and pt.read_bytes() == demo_models["demo_hubert"].read_bytes()


def test_tree_digest_sees_content_names_and_new_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.txt").write_bytes(b"12")
    first = tree_digest(tmp_path)
    assert tree_digest(tmp_path) == first
    (tmp_path / "a" / "f.txt").write_bytes(b"13")
    second = tree_digest(tmp_path)
    assert second != first
    (tmp_path / "a" / "f.txt").rename(tmp_path / "a" / "g.txt")
    assert tree_digest(tmp_path) not in (first, second)
    (tmp_path / "a" / "g.txt").rename(tmp_path / "a" / "f.txt")
    assert tree_digest(tmp_path) == second
    (tmp_path / "b").mkdir()  # an empty directory counts too
    assert tree_digest(tmp_path) != second
