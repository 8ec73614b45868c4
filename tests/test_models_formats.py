"""Checkpoint formats: the one dispatcher, fingerprints per format, display names, completion."""

from __future__ import annotations

import json
import shutil
import struct
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from lwa_cli.errors import LwaError
from lwa_cli.models.fingerprints import checkpoint_fingerprint
from lwa_cli.models.formats import FORMATS, detect_format
from lwa_cli.models.loading import load_model
from lwa_cli.models.registry import REGISTRY, display_names, layer_choices
from lwa_cli.models.whisper_pt import write_checkpoint

FIX = Path(__file__).parent / "fixtures" / "models"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, demo_models) -> dict[str, Path]:
    """One checkpoint per format: name -> path (read-only: copy one to alter it)."""
    root = tmp_path_factory.mktemp("formats")
    demo = demo_models
    shutil.copytree(FIX / "fastvgs_tiny", root / "fastvgs_tiny")
    shutil.copy(FIX / "avhubert_tiny.pt", root / "avhubert_tiny.pt")
    whisper = load_model("w", demo["demo_whisper"]).module
    return {"hf": demo["demo_wav2vec2"], "fairseq": demo["demo_hubert"],
            "unilm": demo["demo_wavlm"], "fastvgs": root / "fastvgs_tiny",
            "avhubert": root / "avhubert_tiny.pt", "whisper-hf": demo["demo_whisper"],
            "whisper-openai": write_checkpoint(whisper, root / "whisper_tiny.pt")}


FORMAT_OF = {"hf": "hf", "fairseq": "fairseq", "unilm": "fairseq", "fastvgs": "fastvgs",
             "avhubert": "avhubert", "whisper-hf": "whisper-hf",
             "whisper-openai": "whisper-openai"}
GENERAL = {"avhubert": ["fairseq"], "whisper-openai": ["fairseq"], "whisper-hf": ["generic", "hf"]}
"""The general formats that also claim a more specific format's checkpoints (the generic path
takes any model type without a family: whisper has its own format, listed before it)."""


def test_formats_are_listed_once_each_with_the_four_callables():
    assert [f.name for f in FORMATS] == ["whisper-hf", "generic", "hf", "fastvgs", "avhubert",
                                         "whisper-openai", "fairseq"]
    for fmt in FORMATS:
        assert all(callable(c) for c in (fmt.detect, fmt.read_spec, fmt.load, fmt.fingerprint))


@pytest.mark.parametrize("kind", list(FORMAT_OF))
def test_each_format_is_detected_and_read(checkpoints, kind):
    path = checkpoints[kind]
    fmt = detect_format(path)
    assert fmt.name == FORMAT_OF[kind]
    # only its own format claims it, apart from the general format after a specific one
    claims = [f.name for f in FORMATS if f.detect(path)]
    assert claims == [fmt.name] + GENERAL.get(kind, [])
    spec = fmt.read_spec(path, "mine", None)
    loaded = load_model("mine", path)
    assert spec.name == "mine" and spec == loaded.spec
    assert loaded.fingerprint == fmt.fingerprint(path) == checkpoint_fingerprint(path)


def test_a_model_type_without_family_takes_the_generic_path(checkpoints, private_copy):
    other = private_copy(checkpoints["hf"], "other")
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "sew"}))
    assert detect_format(other).name == "generic"
    assert [f.name for f in FORMATS if f.detect(other)] == ["generic", "hf"]
    assert detect_format(checkpoints["hf"]).name == "hf"  # a family's type is not generic
    (other / "config.json").write_text("{")  # unreadable: hf_dir says why
    assert detect_format(other).name == "hf"
    with pytest.raises(LwaError, match="config.json"):
        load_model("mine", other)


def test_unknown_files_and_directories_are_refused_by_name(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint")
    with pytest.raises(LwaError, match="cannot read checkpoint .*notes.pt: it is none of") as err:
        detect_format(text)
    assert ("an AV-HuBERT .pt file; an openai-whisper .pt file; a fairseq/unilm .pt file"
            in str(err.value))
    assert "Hugging Face" not in str(err.value)  # a file is not offered directory formats
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LwaError) as err:
        detect_format(empty)
    assert str(empty) in str(err.value)
    assert "no config.json, nor args.pkl + best_bundle.pth" in str(err.value)
    with pytest.raises(LwaError, match="does not exist"):
        detect_format(tmp_path / "missing.pt")
    with pytest.raises(LwaError, match="notes.pt"):  # the fingerprint goes through it too
        checkpoint_fingerprint(text)


def _perturb_weights(path: Path, kind: str) -> None:
    """Add 1 to one weight of the checkpoint at ``path`` (its layout otherwise unchanged)."""
    if kind in ("hf", "whisper-hf"):
        from safetensors.torch import load_file, save_file

        file = next(path.glob("*.safetensors"))
        tensors = load_file(file)
        key = sorted(k for k in tensors if "decoder" not in k)[0]  # Whisper: an encoder one
        tensors[key] = tensors[key] + 1.0
        save_file(tensors, file, metadata={"format": "pt"})
        return
    # a torch zip file: the first float of its largest tensor, rewritten in place
    file = path / "best_bundle.pth" if kind == "fastvgs" else path
    with zipfile.ZipFile(file) as zf:
        info = max((i for i in zf.infolist() if "/data/" in i.filename),
                   key=lambda i: i.file_size)
    assert info.compress_type == zipfile.ZIP_STORED
    with file.open("r+b") as fh:
        fh.seek(info.header_offset + 26)
        name_len, extra_len = struct.unpack("<HH", fh.read(4))
        start = info.header_offset + 30 + name_len + extra_len
        fh.seek(start)
        (value,) = struct.unpack("<f", fh.read(4))
        fh.seek(start)
        fh.write(struct.pack("<f", value + 1.0))


@pytest.mark.parametrize("kind", list(FORMAT_OF))
def test_fingerprint_is_stable_and_follows_the_weights(checkpoints, tmp_path, kind):
    src = checkpoints[kind]
    path = tmp_path / src.name
    (shutil.copytree if src.is_dir() else shutil.copy)(src, path)
    first = checkpoint_fingerprint(path)
    assert len(first) == 64 and checkpoint_fingerprint(path) == first
    assert first == checkpoint_fingerprint(src)  # the bytes, not the place, define it
    _perturb_weights(path, kind)
    changed = checkpoint_fingerprint(path)
    assert changed != first
    before, after = load_model("mine", src), load_model("mine", path)
    assert after.fingerprint == changed
    weights = zip(before.module.state_dict().values(), after.module.state_dict().values(),
                  strict=True)
    assert sum(not torch.equal(a, b) for a, b in weights) == 1  # the weight that changed


def test_random_twin_takes_its_architecture_from_any_format(checkpoints):
    lm = load_model("mine_random", checkpoints["avhubert"], seed=3)
    assert lm.source == "random" and lm.spec.family == "avhubert" and lm.checkpoint == "random:3"
    assert (lm.n_conv, lm.n_layers) == (0, 2)


def test_registry_entries_carry_their_display_names():
    names = display_names()
    assert names["hubert_base"] == REGISTRY["hubert_base"].display_name == "HuBERT Base"
    assert names["wavlm_base_plus"] == "WavLM Base+"
    assert names["avhubert_large_lrs3_vc2"] == "AV-HuBERT Large (LRS3+VC2)"
    assert names["hubert_base_random"] == "HuBERT Base, random init"
    assert names["demo_wav2vec2"] == "demo wav2vec 2.0" and names["demo_hubert"] == "demo HuBERT"
    assert names["w2v_bert_2"] == "w2v-BERT 2.0" and names["xls_r_2b_random"] == (
        "XLS-R 2B, random init")
    assert names["wav2vec2_conformer_rope_large"] == "wav2vec 2.0 Conformer Large (RoPE)"
    assert names["unispeech_sat_base_plus"] == "UniSpeech-SAT Base+"
    assert names["whisper_large_v3"] == "Whisper large-v3"
    assert names["demo_whisper"] == "demo Whisper"
    assert all(REGISTRY[n].display_name for n in REGISTRY)


def test_report_names_come_from_the_registry():
    from lwa_cli.report.analyses import MODEL_NAMES, display_name

    assert MODEL_NAMES["fastvgs_coco"] == "FaST-VGS (COCO)"
    assert display_name("xlsr_300m_random") == "XLS-R 300M, random init"
    assert display_name("xlsr_300m_random", {"xlsr_300m": "XLS-R"}) == "XLS-R, random init"
    assert display_name("my_model") == "my_model"


def test_layer_choices_follow_the_registry_entry():
    hubert = layer_choices("hubert_base")
    assert hubert[:3] == ["all", "C", "T"]
    assert hubert[3:] == [f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(13)]
    avhubert = layer_choices("avhubert_large_lrs3_vc2")
    assert avhubert == ["all", "T"] + [f"T{i}" for i in range(25)]
    assert layer_choices("fastvgs_coco")[-1] == "T8"
    unknown = layer_choices("my_checkpoint")  # the registry's largest: C1-C7, T0-T48 (MMS 1B)
    assert unknown == layer_choices(None)
    assert unknown[-1] == "T48" and "C7" in unknown and "C8" not in unknown
    assert layer_choices("w2v_bert_2") == ["all", "T"] + [f"T{i}" for i in range(25)]
    assert layer_choices("whisper_tiny") == ["all", "C", "T", "C1", "C2"] + [
        f"T{i}" for i in range(5)]


def test_complete_layer_reads_the_model_given_so_far():
    from lwa_cli.cli.common import complete_layer

    ctx = SimpleNamespace(params={"model": "fastvgs_coco"})
    assert complete_layer(ctx, "T") == ["T"] + [f"T{i}" for i in range(9)]
    assert complete_layer(ctx, "C") == ["C"] + [f"C{i}" for i in range(1, 8)]
    assert complete_layer(SimpleNamespace(params={"model": "avhubert_base_lrs3"}), "C") == []
    assert complete_layer(SimpleNamespace(params={"model": ["wavlm_base"]}), "T1") == [
        "T1", "T10", "T11", "T12"]
    assert complete_layer(SimpleNamespace(params={}), "T2") == (  # largest entry: T0-T48
        ["T2"] + [f"T{i}" for i in range(20, 30)])
