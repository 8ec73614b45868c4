"""prepare-alignments and sample on the bundled demo corpus, through the CLI.

Expected counts are computed here independently: the TextGrids are read with praatio
directly and the SPEC §3 rules are applied by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
from praatio import textgrid as praat_textgrid

from lwa_cli.workspace import FORMAT_VERSION
from tests.cli_runner import lwa, lwa_command

DROP = {"", "sp", "spn"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_corpus):
    root = tmp_path_factory.mktemp("demo")
    corpus = demo_corpus
    ws = root / "ws"
    lwa(ws, "prepare-alignments", "--corpus", str(corpus.corpus_root), "--alignments",
        str(corpus.alignments_root), "--split", "dev-clean", "--split", "train-clean")
    return corpus, ws


def _count_by_hand(align_root: Path, split: str) -> tuple[Counter, Counter, int]:
    phones, words, n = Counter(), Counter(), 0
    for path in sorted((align_root / split).rglob("*.TextGrid")):
        tg = praat_textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
        n += 1
        for entry in tg.getTier("phones").entries:
            lab = entry.label.strip()
            if lab in DROP:
                continue
            phones["SIL" if lab == "sil" else lab.rstrip("012").lower()] += 1
        for entry in tg.getTier("words").entries:
            if entry.label.strip():
                words[entry.label.strip().lower()] += 1
    return phones, words, n


def test_prepare_writes_alignments_with_hand_counted_segments(demo):
    corpus, ws = demo
    for split in ("dev-clean", "train-clean-100"):
        phones, words, n_utts = _count_by_hand(corpus.alignments_root, split)
        with h5py.File(ws / "alignments" / f"{split}.h5") as f:
            assert f.attrs["lwa_format_version"] == FORMAT_VERSION
            assert len(f["utterances/id"]) == n_utts
            assert len(f["phones/label"]) == sum(phones.values())
            assert len(f["words/label"]) == sum(words.values())
            inv = dict(zip(f["inventory/phones/label"].asstr()[...],
                           f["inventory/phones/count"][...], strict=True))
            assert inv == dict(phones)
            counts = f["inventory/words/count"][...]
            assert np.all(np.diff(counts) <= 0)  # ordered by count


def test_prepare_again_is_idempotent_and_json(demo):
    corpus, ws = demo
    out = lwa(ws, "prepare-alignments", "--corpus", str(corpus.corpus_root), "--alignments",
              str(corpus.alignments_root), "--split", "dev-clean", "--json").stdout
    (summary,) = json.loads(out)
    assert summary["status"] == "exists" and summary["utterances"] == 62


def test_sample_phone_dev_rule(demo):
    corpus, ws = demo
    phones, _, _ = _count_by_hand(corpus.alignments_root, "dev-clean")
    out = json.loads(lwa(ws, "sample", "phone", "--split", "dev-clean", "--sample", "p",
                         "--json").stdout)
    assert out["tokens"] == sum(min(c, 200) for p, c in phones.items() if p != "SIL")
    assert out["types"] == 39


def test_sample_phone_train_rule_bounds(demo):
    corpus, ws = demo
    phones, _, _ = _count_by_hand(corpus.alignments_root, "train-clean-100")
    lwa(ws, "sample", "phone", "--split", "train-clean", "--sample", "p", "--seed", "3")
    with h5py.File(ws / "samples" / "train-clean" / "phone-p.h5") as f:
        got = Counter(f["tokens/label"].asstr()[...])
    for phone, count in phones.items():
        if phone == "SIL":
            assert phone not in got
        else:  # randint(min(3000, c), min(7000, c)) == c on this small corpus
            assert got[phone] == count


def test_sample_word_dev_rule_uses_train_inventory(demo):
    corpus, ws = demo
    _, dev_words, _ = _count_by_hand(corpus.alignments_root, "dev-clean")
    _, train_words, _ = _count_by_hand(corpus.alignments_root, "train-clean-100")
    top = [w for w, _ in sorted(train_words.items(), key=lambda kv: (-kv[1], kv[0]))
           if w != "<unk>"][:40]
    out = json.loads(lwa(ws, "sample", "word", "--split", "dev-clean", "--words", "40",
                         "--sample", "w", "--json").stdout)
    assert out["tokens"] == sum(min(dev_words[w], 15) for w in top)
    with h5py.File(ws / "samples" / "dev-clean" / "word-w.h5") as f:
        assert set(f["tokens/label"].asstr()[...]) == {w for w in top if dev_words[w]}


def test_sample_frame_and_subsets_bound(demo):
    _, ws = demo
    out = json.loads(lwa(ws, "sample", "frame", "--split", "dev-clean", "--utterances", "7",
                         "--sample", "f", "--json").stdout)
    assert out["utterances"] == 7
    lwa(ws, "sample", "word", "--split", "train-clean", "--words", "30", "--sample", "s",
        "--max-subset-seconds", "20")
    with h5py.File(ws / "samples" / "train-clean" / "word-s.h5") as f:
        dur = f["tokens/end"][...] - f["tokens/start"][...]
        subset = f["tokens/subset"][...]
    assert subset.max() >= 5
    for j in range(subset.max() + 1):
        assert dur[subset == j].sum() <= 20 + 1e-9


def test_sample_wordsim_is_capped_per_word(demo):
    _, ws = demo
    lwa(ws, "sample", "wordsim", "--split", "train-clean", "--instances", "4", "--sample", "ws")
    with h5py.File(ws / "samples" / "train-clean" / "wordsim-ws.h5") as f:
        counts = Counter(f["tokens/label"].asstr()[...])
    assert max(counts.values()) == 4 and len(counts) == 150


def test_same_sample_is_reused_other_needs_force_and_is_seeded(demo):
    _, ws = demo
    args = ["sample", "frame", "--split", "dev-clean", "--utterances", "5", "--sample", "r"]
    lwa(ws, *args, "--seed", "1")
    path = ws / "samples" / "dev-clean" / "frame-r.h5"
    stamp = path.stat().st_mtime_ns
    lwa(ws, *args, "--seed", "1")  # the same request again: reused, not redrawn
    assert path.stat().st_mtime_ns == stamp
    res = lwa(ws, *args, "--seed", "2", code=1)
    assert "--force" in res.output
    with h5py.File(path) as f:
        first = f["utterances/id"].asstr()[...].tolist()
    lwa(ws, *args, "--seed", "2", "--force")
    lwa(ws, *args, "--seed", "1", "--force")
    with h5py.File(path) as f:
        assert f["utterances/id"].asstr()[...].tolist() == first


def test_usage_and_input_errors_are_one_line(demo, tmp_path):
    _, ws = demo
    res = lwa(ws, "sample", "frame", "--split", "dev-nope", code=2)
    assert "dev-nope" in res.output and "Traceback" not in res.output
    res = lwa(tmp_path / "empty", "sample", "frame", "--split", "dev-clean", code=1)
    assert "prepare-alignments" in res.output
    res = lwa(ws, "prepare-alignments", "--corpus", str(tmp_path / "nope"), "--alignments",
              str(tmp_path), "--split", "dev-clean", code=1)
    assert "does not exist" in res.output


def test_real_subprocess_lwa(demo):
    _, ws = demo
    cmd = lwa_command()
    env = {**os.environ, "LWA_WORKSPACE": str(ws)}
    done = subprocess.run([*cmd, "sample", "frame", "--split", "dev-clean", "--utterances",
                           "3", "--sample", "sub", "--json"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["utterances"] == 3
    version = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.startswith("lwa ")
    bad = subprocess.run([*cmd, "sample", "frame", "--split", "nope"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_debug_shows_the_exception_instead_of_one_line(tmp_path):
    result = lwa(tmp_path / "none", "--debug", "sample", "frame", "--split", "dev-clean",
                 code=None, quiet=False)
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "LwaError"
