"""Every registered analysis through the CLI on each encoder family's tiny checkpoint (issue 18).

Families: w2v-BERT 2.0 (no conv layers), a rotary wav2vec2-conformer read by hub id from a fake
Hugging Face cache, UniSpeech-SAT, SEW on the generic AutoModel path (no C layers; all four
from tests/encoder_checkpoints.py) and the demo Whisper (`demo_models`). All run at 20 ms, so
`cca inter` and `similarity` pair each family with the next one of `FAMILIES` (a ring).

One module-scoped workspace on links to the demo corpus: dev-clean as it is (a frame sample
of 6 utterances, the word and allwords spans: `cca word|glove|agwe` need ≥ 10 points per
canonical direction, `cca semantic|syntactic` ≥ 320 word tokens at width 32, and the demo STS
pairs), train-clean-100 cut to `TRAIN_PER_SPEAKER` utterances a speaker (the train side of the
probes and word MI), and test-clean = the first `PART_PER_SPEAKER` dev-clean utterances of
each speaker, for the spans that would otherwise cover the whole split (phone, wordsim).

Each family is extracted for every span the analyses read; `--rep local` where it has conv
layers (elsewhere the refusal is checked). Then `RUNS` runs every analysis of
`lwa_cli.analyses.ANALYSES` on each family (and `segment apply` on the tuned T2). The tests
check that each stored results for the family's layers (T0-T2; C layers only where the family
has them) with finite, in-range scores on n > 0 points (the samples' counts for the segment
spans), and that `RUNS` covers the registry: an analysis added there and not run here fails.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

from lwa_cli.analyses import ANALYSES
from lwa_cli.workspace.features import FeatureFile
from tests.cli_runner import lwa
from tests.encoder_checkpoints import offline_hub, write_checkpoints

DEV, TRAIN, PART = "dev-clean", "train-clean-100", "test-clean"
PART_PER_SPEAKER, TRAIN_PER_SPEAKER = 4, 2
T = ["T0", "T1", "T2"]
SEVEN = [f"C{i}" for i in range(1, 8)]
EMBEDDING_DIMS = 4  # glove/agwe maps: few dims, so the CCA needs few word tokens


@dataclass(frozen=True)
class Family:
    family: str  # the `family` of the frame file's spec
    conv: tuple[str, ...]  # the conv layers `--rep local` stores (none: refused)


FAMILIES = {
    "tiny_w2v_bert": Family("w2v_bert", ()),
    "tiny_conformer": Family("wav2vec2_conformer", tuple(SEVEN)),
    "tiny_unispeech_sat": Family("unispeech_sat", tuple(SEVEN)),
    "tiny_sew": Family("generic", ()),
    "demo_whisper": Family("whisper", ("C1", "C2")),
}
NAMES = list(FAMILIES)
PARTNER = dict(zip(NAMES, NAMES[1:] + NAMES[:1], strict=True))  # same 20 ms frame rate


def _cca(experiment: str, *extra: str) -> Callable[[str], list[str]]:
    return lambda m: ["cca", experiment, "--model", m, *extra]


def _probe(task: str) -> Callable[[str], list[str]]:
    return lambda m: ["probe", task, "--model", m, "--device", "cpu", "--c-grid", "0.1"]


# analysis -> the command line that stores its results for model m
RUNS: dict[str, Callable[[str], list[str]]] = {
    "cca-mel": _cca("mel"),
    "cca-intra": _cca("intra"),
    "cca-inter": lambda m: ["cca", "inter", "--model", m, "--other-model", PARTNER[m]],
    "cca-phone": _cca("phone", "--split", PART),
    "cca-word": _cca("word"),
    "cca-agwe": _cca("agwe"),
    "cca-glove": _cca("glove"),
    "cca-semantic": _cca("semantic", "--split", DEV),
    "cca-syntactic": _cca("syntactic", "--split", DEV),
    "similarity": lambda m: ["similarity", "--model", m, "--other-model", PARTNER[m]],
    # phone MI: k-means fitted on the test-clean phones and scored on them (one phone span)
    "mi-phone": lambda m: ["mi", "phone", "--model", m, "--clusters", "8", "--train-split",
                           PART, "--eval-split", "none"],
    "mi-word": lambda m: ["mi", "word", "--model", m, "--clusters", "4", "--train-split",
                          TRAIN],
    "wordsim": lambda m: ["wordsim", "--model", m, "--split", PART],
    "segment": lambda m: ["segment", "tune", "--model", m],
    "awd": lambda m: ["awd", "--model", m],
    "sts": lambda m: ["sts", "--model", m, "--pairs", "demo"],
    # any context: 6 utterances hold no within-context A/B/X cells
    "abx": lambda m: ["abx", "--model", m, "--speaker", "both", "--context", "any",
                      "--max-size-group", "3"],
    "probe-phone": lambda m: [*_probe("phone")(m), "--train-split", TRAIN],
    "probe-word": lambda m: [*_probe("word")(m), "--train-split", TRAIN],
    "probe-speaker": _probe("speaker"),
}


def _corpus(src_corpus: Path, src_align: Path, dest: Path) -> tuple[Path, Path]:
    """Links to the demo corpus: dev-clean as it is, the first utterances of each speaker of
    train-clean-100, and those of dev-clean as test-clean; returns (corpus, alignments)."""
    corpus, align = dest / "LibriSpeech", dest / "alignments"
    for root, src in ((corpus, src_corpus), (align, src_align)):
        root.mkdir(parents=True)
        (root / DEV).symlink_to(src / DEV)
    for split, src_split, per_speaker in ((TRAIN, TRAIN, TRAIN_PER_SPEAKER),
                                          (PART, DEV, PART_PER_SPEAKER)):
        taken: dict[str, int] = {}
        for grid in sorted((src_align / src_split).rglob("*.TextGrid")):
            rel = grid.relative_to(src_align / src_split)  # speaker/chapter/utt.TextGrid
            speaker, chapter = rel.parts[0], rel.parts[1]
            if taken.get(speaker, 0) == per_speaker:
                continue
            taken[speaker] = taken.get(speaker, 0) + 1
            (align / split / rel).parent.mkdir(parents=True, exist_ok=True)
            (align / split / rel).symlink_to(grid)
            audio, src_audio = corpus / split / rel.parent, src_corpus / src_split / rel.parent
            if not audio.is_dir():
                audio.mkdir(parents=True)
                trans = f"{speaker}-{chapter}.trans.txt"
                (audio / trans).symlink_to(src_audio / trans)
            flac = rel.with_suffix(".flac").name
            (audio / flac).symlink_to(src_audio / flac)
    return corpus, align


def _embedding_files(ws: Path, root: Path) -> tuple[Path, Path]:
    """A GloVe text file and a gzipped word2vec text file (with its "V D" header), each of
    other random `EMBEDDING_DIMS`-d vectors, for the words of the dev-clean word sample."""
    with h5py.File(ws / "samples" / DEV / "word-1.h5") as f:
        words = sorted(set(f["tokens/label"].asstr()[...]))

    def lines(seed: int) -> str:
        rng = np.random.default_rng(seed)
        return "".join(f"{w} " + " ".join(f"{v:.5f}" for v in rng.normal(size=EMBEDDING_DIMS))
                       + "\n" for w in words)

    glove, agwe = root / "glove.txt", root / "agwe.txt.gz"
    glove.write_text(lines(0))
    with gzip.open(agwe, "wt") as f:
        f.write(f"{len(words)} {EMBEDDING_DIMS}\n" + lines(1))
    return glove, agwe


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_corpus, demo_models):
    """(workspace, extract outputs, analysis results): every family extracted for every span
    and run through every analysis of `RUNS`; results map (analysis, model) -> click result."""
    root = tmp_path_factory.mktemp("families")
    ws = root / "ws"
    corpus, align = _corpus(demo_corpus.corpus_root, demo_corpus.alignments_root, root / "c")
    with offline_hub(root):
        ckpts = {**write_checkpoints(root), "demo_whisper": str(demo_models["demo_whisper"])}
        lwa(ws, "prepare-alignments", "--corpus", str(corpus), "--alignments", str(align),
            "--split", DEV, "--split", TRAIN, "--split", PART)
        # seed 1: two utterances of each of the three dev-clean speakers (the speaker probe
        # trains and scores on utterances of speakers with two or more)
        lwa(ws, "sample", "frame", "--split", DEV, "--utterances", "6", "--seed", "1")
        lwa(ws, "sample", "frame", "--split", TRAIN, "--utterances", "4")
        for split in (DEV, TRAIN):
            lwa(ws, "sample", "word", "--split", split, "--words", "6")
        lwa(ws, "sample", "phone", "--split", PART)
        lwa(ws, "sample", "wordsim", "--split", PART, "--instances", "2")
        lwa(ws, "demo", "oracles", str(root / "oracles"))
        for name in ("semantic", "syntactic"):
            lwa(ws, "embeddings", name, "--path", str(root / "oracles" / f"{name}.txt"))
        lwa(ws, "sample", "allwords", "--split", DEV, "--instances", "4")
        glove, agwe = _embedding_files(ws, root)
        lwa(ws, "embeddings", "glove", "--path", str(glove))
        lwa(ws, "embeddings", "agwe", "--path", str(agwe))
        lwa(ws, "demo", "sts", str(root / "sts"), "--corpus", str(corpus),
            "--max-pairs-per-speaker", "2")
        lwa(ws, "prepare-sts", "--from", str(root / "sts" / "sts.tsv"), "--name", "demo",
            "--score-note", "computed word overlap (not human judgements)")
        local = {}
        for name, ckpt in ckpts.items():
            ext = ["extract", "--model", name, "--checkpoint", ckpt]
            for split, span in ((DEV, "frame"), (DEV, "word"), (DEV, "allwords"),
                                (TRAIN, "frame"), (TRAIN, "word"), (PART, "phone"),
                                (PART, "wordsim")):
                lwa(ws, *ext, "--split", split, "--span", span)
            lwa(ws, *ext, "--split", "sts", "--sample", "demo", "--span", "utt", "--layer",
                "all")
            local[name] = lwa(ws, *ext, "--split", DEV, "--span", "frame", "--rep", "local",
                              code=None)
        results = {(analysis, name): lwa(ws, *command(name), "--json", code=None)
                   for name in NAMES for analysis, command in RUNS.items()}
        applied = {name: lwa(ws, "segment", "apply", "--model", name, "--split", DEV,
                             "--layer", "T2", "--from-tune", "--out",
                             str(root / "segments" / name), "--json", code=None)
                   for name in NAMES}
    return ws, local, results, applied


def _ok(res) -> None:
    assert res.exit_code == 0, f"{res.output}{res.exception!r}"


def test_runs_cover_every_registered_analysis(built):
    assert list(RUNS) == list(ANALYSES)  # a new analysis must be added to RUNS
    ws = built[0]
    assert sorted(p.name for p in (ws / "results").iterdir()) == sorted(ANALYSES)
    for analysis in ANALYSES:
        assert sorted(p.name for p in (ws / "results" / analysis).iterdir()) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_frame_files_and_local_rep(built, name):
    ws, local, _, _ = built
    fam = FAMILIES[name]
    with FeatureFile(ws / "features" / name / DEV / "sample-1" / "frame.h5") as f:
        assert f.meta["spec"]["family"] == fam.family
        assert f.layers == T and f.meta["spec"]["frame_rate_hz"] == 50.0
    res = local[name]
    if fam.conv:
        _ok(res)
        with FeatureFile(ws / "features" / name / DEV / "sample-1" / "frame-local.h5") as f:
            assert f.layers == list(fam.conv)
    else:  # documented refusal: no conv layers; `cca mel` reads the frame file's log-mel
        assert res.exit_code == 2
        none = ("the generic transformers path exposes none (T layers only)"
                if fam.family == "generic" else f"{name} has none")
        assert f"--rep local stores conv layers, and {none}" in res.output
    with FeatureFile(ws / "features" / name / "sts" / "sample-demo" / "utt.h5") as f:
        assert f.layers == [*fam.conv, *T]  # --layer all


def _layers(analysis: str, name: str) -> list[str]:
    """The layers `analysis` scores for model `name` by default, in order."""
    conv = list(FAMILIES[name].conv)
    if analysis == "cca-mel":
        return conv + ["T1", "T2"]
    if analysis == "cca-intra":
        return ["T1", "T2"]  # against the base layer T0
    if analysis == "sts":
        return conv + T  # the utt span was extracted with --layer all
    return T


def _score_range(analysis: str) -> tuple[float, float]:
    if analysis == "abx":
        return 0.0, 100.0  # error rate in %
    if analysis.startswith("cca-") or analysis in ("wordsim", "sts"):
        return -1.0, 1.0  # correlations (CCA: of held-out canonical variates)
    return 0.0, 1.0  # similarity (CKA), MI / H, boundary F, AP, accuracy


def _counts(analysis: str, record: dict) -> list[int]:
    """The numbers of points a record says it was scored on."""
    if analysis.startswith(("cca-", "similarity")):
        return [record["n"]]
    if analysis.startswith("probe-"):
        return [record["n_train"], record["n_eval"]]
    if analysis == "mi-phone":  # fitted and scored on the train split (--eval-split none)
        return [record["n_train"]]
    if analysis == "mi-word":
        return [record["n_train"], record["n_eval"]]
    if analysis == "wordsim":
        return [record["words"], sum(b["pairs_kept"] for b in record["benchmarks"].values())]
    if analysis == "segment":
        return [record["n_scored"], record["n_ref"]]
    if analysis == "awd":
        return [record["n"], record["same_pairs"]]
    if analysis == "sts":
        return [record["pairs"]]
    assert analysis == "abx", f"no counts known for {analysis}: add them here"
    return [record["n_tokens"], record["n_cells"]]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("analysis", list(RUNS))
def test_analysis_runs_on_family(built, analysis, name):
    ws, _, results, _ = built
    res = results[analysis, name]
    _ok(res)
    records = json.loads(res.stdout)
    assert all(r["analysis"] == analysis and r["model"] == name for r in records)
    low, high = _score_range(analysis)
    for r in records:
        assert math.isfinite(r["score"]) and low <= r["score"] <= high, r
        assert min(_counts(analysis, r)) > 0, r
    layers = _layers(analysis, name)
    if analysis == "similarity":  # every layer of A against every layer of B
        assert sorted((r["layer"], r["other_layer"], r["metric"]) for r in records) == [
            (a, b, "cka") for a in T for b in T]
        assert {r["other_model"] for r in records} == {PARTNER[name]}
    elif analysis == "abx":
        assert sorted((r["speakers"], r["layer"]) for r in records) == [
            (s, la) for s in ("across", "within") for la in layers]
    else:
        assert [r["layer"] for r in records] == layers
    stored = {p.name.split(".")[0] for p in (ws / "results" / analysis / name).rglob("*.json")}
    assert stored == set(layers)
    if analysis.startswith("cca-"):
        assert all(r["dims"][0] == 32 for r in records)


@pytest.mark.parametrize("name", NAMES)
def test_cca_mel_pairs_conv_layers_at_10_ms(built, name):
    """C layers but the last run at 10 ms: twice the frames of the T layers (whose log-mel
    is the frame file's, for the families without conv layers)."""
    records = {r["layer"]: r for r in json.loads(built[2]["cca-mel", name].stdout)}
    assert all(r["dims"][1] == 80 for r in records.values())
    conv = FAMILIES[name].conv
    if conv:
        assert 1.9 < records["C1"]["n"] / records["T1"]["n"] < 2.1
        assert records[conv[-1]]["n"] == records["T1"]["n"]


@pytest.mark.parametrize("name", NAMES)
def test_segment_apply_from_tune(built, name):
    ws, _, _, applied = built
    _ok(applied[name])
    summary = json.loads(applied[name].stdout)
    assert summary["config"]["layer"] == "T2" and summary["config"]["source"]["kind"] == "tune"
    assert summary["utterances"] == 6 and summary["boundaries"] > 0
    with h5py.File(ws / "samples" / DEV / "frame-1.h5") as f:
        utts = sorted(f["utterances/id"].asstr()[...])
    out = Path(summary["out"])
    assert sorted(p.stem for p in out.glob("*.txt")) == utts


def _tokens(ws: Path, split: str, kind: str) -> int:
    with h5py.File(ws / "samples" / split / f"{kind}-1.h5") as f:
        return len(f["tokens/label"])


@pytest.mark.parametrize("name", NAMES)
def test_token_analyses_score_every_sampled_segment(built, name):
    """Segment spans pool the same sampled segments whatever the family: the counts are the
    samples' (no segment lost to a family's frame arithmetic)."""
    ws, _, results, _ = built

    def first(analysis: str) -> dict:
        return json.loads(results[analysis, name].stdout)[0]

    words, phones = _tokens(ws, DEV, "word"), _tokens(ws, PART, "phone")
    allwords = _tokens(ws, DEV, "allwords")
    for analysis in ("cca-word", "cca-glove", "cca-agwe", "awd"):
        assert first(analysis)["n"] == words
    assert first("probe-word")["n_eval"] == first("mi-word")["n_eval"] == words
    assert first("mi-word")["n_train"] == first("probe-word")["n_train"] == \
        _tokens(ws, TRAIN, "word")
    assert first("cca-phone")["n"] == first("mi-phone")["n_train"] == phones
    assert first("cca-syntactic")["n"] == allwords
    semantic = first("cca-semantic")
    assert semantic["n"] + semantic["tokens_dropped"] == allwords and semantic["n"] >= 320
    sts_pairs = (ws.parent / "sts" / "sts.tsv").read_text().count("\n") - 1  # header
    assert first("sts")["pairs"] == sts_pairs == 6  # 2 pairs of each of 3 speakers
    speaker = first("probe-speaker")
    assert (speaker["n_classes"], speaker["n_train"] + speaker["n_eval"]) == (3, 6)
    assert first("segment")["n_utterances"] == 6
