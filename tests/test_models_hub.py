"""Hub ids (``--checkpoint org/name[@revision]``) against a fake local Hugging Face cache.

The cache is built in a temporary ``HF_HOME`` with the layout `huggingface_hub` documents
(``hub/models--org--name/refs/<revision>`` holding a commit hash, the files under
``snapshots/<commit>/``); ``HF_HUB_OFFLINE=1`` makes any network access an error.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from lwa_cli.errors import LwaError
from lwa_cli.models import hub
from lwa_cli.models.capture import extract_layers
from lwa_cli.models.fingerprints import hf_dir_fingerprint
from lwa_cli.models.loading import load_model
from lwa_cli.pipeline.extract_reuse import weights_fingerprint

MAIN = "a" * 40
V1 = "b" * 40


@pytest.fixture(scope="module")
def demo(demo_models) -> Path:
    return demo_models["demo_wav2vec2"]


@pytest.fixture
def cache(tmp_path, monkeypatch, demo) -> Path:
    home = tmp_path / "hf"
    repo = home / "hub" / "models--org--tiny-w2v"
    for ref, commit in (("main", MAIN), ("v1", V1)):
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
        shutil.copytree(demo, repo / "snapshots" / commit)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return repo


def test_parse_hub_id():
    assert hub.parse_hub_id("facebook/hubert-base-ls960") == ("facebook/hubert-base-ls960", None)
    assert hub.parse_hub_id("org/name@v1.0") == ("org/name", "v1.0")
    assert hub.parse_hub_id("/abs/path") is None
    assert hub.parse_hub_id("a/b/c") is None and hub.parse_hub_id("model.pt") is None


def test_hub_id_resolves_to_the_cached_snapshot(cache, demo):
    lm = load_model("tiny_from_hub", "org/tiny-w2v")
    assert lm.checkpoint == f"org/tiny-w2v@{MAIN}"
    assert lm.fingerprint == hub.hub_fingerprint(
        hub.HubCheckpoint("org/tiny-w2v", "main", MAIN, cache / "snapshots" / MAIN),
        hf_dir_fingerprint(demo))
    assert lm.fingerprint != hf_dir_fingerprint(demo)  # the commit is part of it
    assert weights_fingerprint("tiny_from_hub", Path("org/tiny-w2v"), 0) == lm.fingerprint
    local = load_model("tiny_local", demo)
    wave = (0.1 * np.random.default_rng(0).standard_normal(3000)).astype(np.float32)
    a, b = extract_layers(lm, wave, ["T"]), extract_layers(local, wave, ["T"])
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_revision_and_commit_pick_their_snapshot(cache):
    at_v1 = load_model("tiny_from_hub", "org/tiny-w2v@v1")
    assert at_v1.checkpoint == f"org/tiny-w2v@{V1}"
    assert at_v1.fingerprint != load_model("tiny_from_hub", "org/tiny-w2v").fingerprint
    assert load_model("tiny_from_hub", f"org/tiny-w2v@{V1}").fingerprint == at_v1.fingerprint


def test_missing_model_is_a_one_line_error_naming_the_download(cache):
    with pytest.raises(LwaError) as err:
        load_model("x", "org/not-there@v2")
    text = str(err.value)
    assert "\n" not in text
    assert "`hf download org/not-there --revision v2`" in text and "--download" in text
    with pytest.raises(LwaError, match="hf download org/tiny-w2v --revision nope"):
        load_model("x", "org/tiny-w2v@nope")


def test_a_path_that_is_no_hub_id_keeps_its_error(tmp_path):
    with pytest.raises(LwaError, match="does not exist"):
        load_model("x", tmp_path / "missing.pt")


def test_only_download_lets_the_hub_be_asked(tmp_path, monkeypatch):
    """`--download` is the one way to fetch; a stand-in records what would be asked."""
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo, **kw):
        calls.append((repo, kw["revision"], kw["local_files_only"]))
        path = tmp_path / "snapshots" / ("d" * 40)
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    assert hub.resolve_hub_id("org/x@v3").commit == "d" * 40
    assert hub.resolve_hub_id("org/x", download=True).revision == "main"
    assert calls == [("org/x", "v3", True), ("org/x", None, False)]


def test_check_describes_family_checkpoints(demo, demo_models):
    from lwa_cli.models.check import describe_checkpoint

    paths = demo_models
    info = describe_checkpoint(demo)
    assert (info["family"], info["n_conv"], info["n_layers"], info["frame_period_ms"]) == (
        "wav2vec2", 7, 3, 20.0)
    assert info["format"] == "a Hugging Face model directory (config.json + weights)"
    pt = describe_checkpoint(paths["demo_wavlm"])
    assert pt["family"] == "wavlm" and pt["input"] == "16 kHz waveform, standardised per utterance"
    assert "fairseq/unilm" in pt["format"]
