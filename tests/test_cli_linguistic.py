"""`lwa cca semantic|syntactic` end to end through the CLI on the demo workspace.

embeddings semantic|syntactic (the bundled demo oracles) → sample allwords → extract by
--subset + combine → cca semantic and syntactic (cached on rerun, --instance-cap), plus the
error paths a user meets (a bad oracle file, a cap where it does not apply).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lwa_cli.analysis.cca import cross_validated_pwcca
from lwa_cli.analysis.oracles import read_oracle
from lwa_cli.data.alignments import inventory
from lwa_cli.data.sampling import allwords_vocabulary
from lwa_cli.pipeline.prepare import load_split
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.embeddings import embeddings_fingerprint, load_embeddings
from lwa_cli.workspace.features import FeatureFile
from lwa_cli.workspace.samples import load_sample
from tests.cli_runner import lwa, lwa_json

M = "demo_wav2vec2"
SPLIT = "dev-clean"  # the demo's smaller split keeps the test fast (train is the usual one)
INSTANCES = 4
MAX_SUBSET_SECONDS = 60.0
BUNDLED = Path(__file__).resolve().parents[1] / "lwa_cli" / "demo" / "oracles"


@pytest.fixture(scope="module")
def ws(tmp_path_factory, demo_corpus, demo_models) -> Path:
    root = tmp_path_factory.mktemp("linguistic")
    ws = root / "ws"
    (root / "c").symlink_to(demo_corpus.root)
    (root / "m").symlink_to(demo_models[M].parent)
    lwa(ws, "demo", "oracles", str(root / "o"))
    lwa(ws, "prepare-alignments", "--corpus", str(root / "c" / "LibriSpeech"), "--alignments",
        str(root / "c" / "alignments"), "--split", SPLIT)
    for name in ("semantic", "syntactic"):
        lwa(ws, "embeddings", name, "--path", str(root / "o" / f"{name}.txt"))
    lwa(ws, "sample", "allwords", "--split", SPLIT, "--instances", str(INSTANCES),
        "--max-subset-seconds", str(MAX_SUBSET_SECONDS))
    smp = load_sample(Workspace(ws), SPLIT, "allwords", "1")
    ext = ["extract", "--model", M, "--checkpoint", str(root / "m" / M), "--split", SPLIT,
           "--span", "allwords", "--layer", "T1,T2"]
    for subset in range(smp.n_subsets):
        lwa(ws, *ext, "--subset", str(subset))
    lwa(ws, "combine", "--model", M, "--split", SPLIT, "--span", "allwords")
    return ws


def test_demo_oracles_command_writes_the_bundled_files(ws: Path) -> None:
    for name in ("semantic", "syntactic"):
        copy = ws.parent / "o" / f"{name}.txt"
        assert copy.read_bytes() == (BUNDLED / f"{name}.txt").read_bytes()


def test_attribute_maps_are_stored_exactly_and_reused(ws: Path) -> None:
    for name, shape in (("semantic", (156, 39)), ("syntactic", (184, 16))):
        oracle = read_oracle(BUNDLED / f"{name}.txt")
        words, matrix = load_embeddings(Workspace(ws), name)
        assert matrix.dtype == np.float64 and matrix.shape == shape
        assert words.tolist() == oracle.words
        np.testing.assert_array_equal(matrix, oracle.matrix)  # float64: no rounding
        again = lwa_json(ws, "embeddings", name, "--path", str(ws.parent / "o" / f"{name}.txt"))
        assert again[0]["status"] == "exists" and again[0]["dims"] == shape[1]


def test_allwords_sample_vocabulary_counts_and_whole_word_subsets(ws: Path) -> None:
    w = Workspace(ws)
    smp = load_sample(w, SPLIT, "allwords", "1")
    split_labels = load_split(w, SPLIT).words.label
    split_words, split_counts = inventory(split_labels, exclude=("<unk>",))
    vocab = allwords_vocabulary([read_oracle(BUNDLED / f"{n}.txt").words
                                 for n in ("semantic", "syntactic")], split_words.tolist())
    counts = Counter(smp.tokens.label.tolist())
    assert set(counts) == set(vocab) and "<unk>" not in counts
    available = dict(zip(split_words.tolist(), split_counts.tolist(), strict=True))
    assert all(counts[v] == min(available[v], INSTANCES) for v in vocab)
    assert smp.params["vocabulary_size"] == len(vocab) == 183
    assert len(smp.tokens.label) == sum(counts.values()) == 583
    assert smp.params["oracles"] == {n: embeddings_fingerprint(w, n)
                                     for n in ("semantic", "syntactic")}
    # Every word lies in one subset; a subset holds at most the bound unless it is one word.
    duration = smp.tokens.end - smp.tokens.start
    assert smp.n_subsets >= 2
    for word in counts:
        assert len(set(smp.subset[smp.tokens.label == word].tolist())) == 1
    for s in range(smp.n_subsets):
        inside = smp.subset == s
        assert duration[inside].sum() <= MAX_SUBSET_SECONDS or \
            len(set(smp.tokens.label[inside].tolist())) == 1
    # Same request: reused as it is; another vocabulary under the same name: refused.
    fp = smp.fingerprint
    lwa(ws, "sample", "allwords", "--split", SPLIT, "--instances", str(INSTANCES),
        "--max-subset-seconds", str(MAX_SUBSET_SECONDS))
    assert load_sample(w, SPLIT, "allwords", "1").fingerprint == fp
    refused = lwa(ws, "sample", "allwords", "--split", SPLIT, "--instances", str(INSTANCES),
                  "--max-subset-seconds", str(MAX_SUBSET_SECONDS), "--vocabulary", "semantic",
                  code=1)
    assert "other options" in refused.output


def test_combined_features_hold_every_token_in_sample_order(ws: Path) -> None:
    w = Workspace(ws)
    smp = load_sample(w, SPLIT, "allwords", "1")
    with FeatureFile(w.features_path(M, SPLIT, "1", "allwords")) as f:
        assert f.layers == ["T1", "T2"] and f.meta["span"] == "allwords"
        index = f.rows("token_index")
        # combine keeps token parts in part order (ascending within each part), each token once
        np.testing.assert_array_equal(np.sort(index), np.arange(len(smp.tokens.label)))
        assert f.rows("label").tolist() == smp.tokens.label[index].tolist()
        assert f.summary["dropped_segments"] == 0


def _direct_score(ws: Path, experiment: str, layer: str) -> tuple[float, int, int]:
    """The CCA computed straight from the arrays: (score, n kept, n dropped)."""
    w = Workspace(ws)
    words, matrix = load_embeddings(w, experiment)
    row_of = {str(word): i for i, word in enumerate(words)}
    with FeatureFile(w.features_path(M, SPLIT, "1", "allwords")) as f:
        labels = f.rows("label")
        keep = np.array([lab in row_of for lab in labels])
        x = f.features(layer)[...][keep]
    y = matrix[[row_of[lab] for lab in labels[keep]]]
    res = cross_validated_pwcca(x, y, labels[keep], seed=0)
    return res.score, int(keep.sum()), int((~keep).sum())


def test_cca_semantic_and_syntactic_drop_count_and_reuse(ws: Path) -> None:
    for experiment, dims in (("semantic", 39), ("syntactic", 16)):
        records = lwa_json(ws, "cca", experiment, "--model", M, "--split", SPLIT)
        assert [r["layer"] for r in records] == ["T1", "T2"]
        score, kept, dropped = _direct_score(ws, experiment, "T2")
        t2 = records[1]
        assert t2["score"] == pytest.approx(score, abs=1e-12)
        assert 0 < t2["score"] < 1
        assert (t2["n"], t2["tokens_dropped"], t2["tokens_capped"]) == (kept, dropped, 0)
        assert t2["dims"] == [32, dims] and t2["attributes"] == dims
        assert t2["instance_cap"] is None and t2["null_tol"] is None
        assert t2["inputs"]["targets"]["fingerprint"] == \
            embeddings_fingerprint(Workspace(ws), experiment)
        rerun = lwa_json(ws, "cca", experiment, "--model", M, "--split", SPLIT)
        assert all(r["cached"] for r in rerun)
        assert [r["score"] for r in rerun] == [r["score"] for r in records]
    semantic = json.loads((ws / "results" / "cca-semantic" / M / SPLIT / "sample-1" /
                           "T1.json").read_text())
    # The 28 demo words without noun/verb senses (and, the, of, ...) are dropped.
    assert (semantic["n"], semantic["tokens_dropped"]) == (481, 102)


def test_instance_cap_is_seeded_and_a_variant_of_its_own(ws: Path) -> None:
    capped = lwa_json(ws, "cca", "syntactic", "--model", M, "--split", SPLIT, "--layer", "T2",
                      "--instance-cap", "2")[0]
    counts = Counter(load_sample(Workspace(ws), SPLIT, "allwords", "1").tokens.label.tolist())
    assert capped["n"] == sum(min(c, 2) for c in counts.values())
    assert capped["tokens_capped"] == sum(max(c - 2, 0) for c in counts.values())
    assert capped["instance_cap"] == 2 and capped["options"]["instance_cap"] == 2
    assert "cap2" in Path(capped["file"]).name
    again = lwa_json(ws, "cca", "syntactic", "--model", M, "--split", SPLIT, "--layer", "T2",
                     "--instance-cap", "2")[0]
    assert again["cached"] and again["score"] == capped["score"]
    uncapped = ws / "results" / "cca-syntactic" / M / SPLIT / "sample-1" / "T2.json"
    assert json.loads(uncapped.read_text())["instance_cap"] is None


def test_bad_oracle_file_names_file_and_line(ws: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text('the\t{"ptb.dt": 1.0}\nof\t{"ptb.in": -0.5}\n', encoding="utf-8")
    before = embeddings_fingerprint(Workspace(ws), "syntactic")
    out = lwa(ws, "embeddings", "syntactic", "--path", str(bad), code=1).output
    assert f"{bad}:2" in out and "≥ 0" in out
    assert embeddings_fingerprint(Workspace(ws), "syntactic") == before  # nothing replaced
    lwa(ws, "embeddings", "syntactic", "--path", str(tmp_path / "missing.txt"), code=1)


def test_cap_and_missing_inputs_are_explained(ws: Path, tmp_path: Path) -> None:
    usage = lwa(ws, "cca", "word", "--model", M, "--instance-cap", "3", code=2).output
    assert "--instance-cap" in usage
    missing = lwa(ws, "cca", "semantic", "--model", M, "--split", SPLIT, "--sample", "9",
                  code=1).output
    assert "lwa extract" in missing
    empty = tmp_path / "ws"
    lwa(empty, "prepare-alignments", "--corpus", str(ws.parent / "c" / "LibriSpeech"),
        "--alignments", str(ws.parent / "c" / "alignments"), "--split", SPLIT)
    no_map = lwa(empty, "sample", "allwords", "--split", SPLIT, code=1).output
    assert "lwa embeddings semantic" in no_map
