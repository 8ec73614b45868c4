"""examples/librispeech.mk: what it would run (make -n) and a real run on the demo corpus.

The real run: two demo models in one workspace with `-j2`, a rerun that does nothing, then
`lwa clean features` and a report that still has every result (issue 19).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lwa_cli import results
from lwa_cli.demo.models import write_demo_models
from tests.cli_runner import lwa, lwa_json

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "examples" / "librispeech.mk"
W, H = "demo_wav2vec2", "demo_hubert"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _make(tmp: Path, *args: str, dry: bool = False) -> subprocess.CompletedProcess:
    # Run as a user would, also when the suite itself runs under `make test` (a nested make
    # would print "Entering directory" lines and inherit the outer make's flags).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    command = ["make", "--no-print-directory", *(["-n"] if dry else []), "-f", str(RECIPE),
               f"LIBRISPEECH={tmp}/corpus/LibriSpeech", f"ALIGN={tmp}/corpus/alignments",
               f"WS={tmp}/study/workspace", *args]
    done = subprocess.run(command, cwd=tmp, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _flat(text: str) -> str:
    """Commands with their line continuations joined and spaces collapsed."""
    return re.sub(r"[ \t]+", " ", re.sub(r"\\\n\s*", " ", text))


# Layers given, so the dry run needs no checkpoint (the real run reads them from it).
GEOMETRY = (f"NLAYERS_{W}=3", f"NCONV_{W}=7", f"NLAYERS_{H}=2", f"NCONV_{H}=0")


def test_dry_run_covers_every_analysis_per_model_and_layer(tmp_path):
    text = _flat(_make(tmp_path, f"MODELS={W} {H}", f"CKPT_{W}=ckpt/w", f"CKPT_{H}=ckpt/h.pt",
                       f"INTER_WITH={W}", "GLOVE=g.txt", "AGWE=a.txt", "SEMANTIC=s.txt",
                       "SYNTACTIC=y.txt", "STS=sts.tsv", "ITERS=0 1", *GEOMETRY,
                       dry=True).stdout)
    lines = text.splitlines()
    per_layer = [line for line in lines if line.startswith("lwa --threads 1 ")]

    def layers(command: str) -> list[str]:
        return [re.search(r"--layer (\S+)", line)[1] for line in per_layer
                if f"{command} " in line]

    # W: conv C1-C7 and T1-T3 for mel; H has no conv layers: no mel, no local rep.
    assert layers(f"cca mel --model {W}") == [*(f"C{i}" for i in range(1, 8)), "T1", "T2", "T3"]
    assert layers(f"cca mel --model {H}") == []
    assert f"--model {H} --checkpoint ckpt/h.pt --device auto --split dev-clean --span frame " \
           "--rep local" not in text
    assert layers(f"cca intra --model {H}") == ["T1", "T2"]
    # inter: every model against INTER_WITH, not INTER_WITH against itself
    assert layers(f"cca inter --model {H} --other-model {W}") == ["T0", "T1", "T2"]
    assert layers(f"cca inter --model {W}") == []
    for analysis in ("cca phone", "cca word", "cca glove", "cca agwe", "cca semantic",
                     "cca syntactic", "wordsim", "segment tune", "awd", "sts"):
        assert layers(f"{analysis} --model {W}") == ["T0", "T1", "T2", "T3"], analysis
        assert layers(f"{analysis} --model {H}") == ["T0", "T1", "T2"], analysis
    mi = [line for line in per_layer if f"mi word --model {H}" in line]
    assert [re.search(r"--layer (\S+) --iter (\d)", line).groups() for line in mi] == [
        (f"T{t}", i) for t in range(3) for i in "01"]
    # The data once, shared; the maps only because they were given; the report at the end.
    for once in ("lwa sample frame --split dev-clean --utterances 500",
                 "lwa embeddings one-hot --words 500", "lwa embeddings glove --path g.txt",
                 "lwa embeddings semantic --path s.txt", "lwa sample allwords",
                 "lwa prepare-sts --from sts.tsv --name sts"):
        assert text.count(once) == 1, once
    assert lines[-2:] == [f"lwa report --out {tmp_path}/study/report",
                          f"lwa report --out {tmp_path}/study/report/pdf --format pdf --dpi 300"]
    # Every extraction before the first analysis that reads it: T layers of mel need frame.
    first = {m: next(i for i, line in enumerate(lines) if f"cca mel --model {W}" in line)
             for m in (W,)}
    frame = lines.index(f"lwa extract --model {W} --checkpoint ckpt/w --device auto --split "
                        "dev-clean --span frame")
    assert frame < first[W]
    assert sum(f"lwa extract --model {W} " in line for line in lines) == 10  # + train frames
    # cca phone / word read dev-clean only: with only those, nothing of train-clean is extracted
    only = _flat(_make(tmp_path, f"MODELS={W}", f"CKPT_{W}=ckpt/w", "ANALYSES=cca-phone cca-word",
                       *GEOMETRY, dry=True).stdout)
    assert "--split train-clean --span" not in only and "--split dev-clean --span word" in only


def test_dry_run_without_the_optional_inputs(tmp_path):
    text = _flat(_make(tmp_path, f"MODEL={W}", "CKPT=ckpt/w", *GEOMETRY, dry=True).stdout)
    for absent in ("cca inter", "cca glove", "cca agwe", "cca semantic", "sts --model",
                   "embeddings glove", "prepare-sts", "allwords"):
        assert absent not in text, absent
    assert f"lwa --threads 1 awd --model {W} --layer T3" in text


# The analyses of the real run: each kind of prerequisite once (mel: frame and frame-local;
# inter: the other model's frame file; MI: dev-clean and train-clean; wordsim: its own span).
# (mi word rather than mi phone: the demo's word samples are small with WORDS=4.)
RUN_ANALYSES = "cca-mel cca-inter mi-word wordsim"


def test_recipe_runs_on_the_demo_with_two_models(tmp_path):
    lwa(tmp_path / "unused", "demo", "corpus", str(tmp_path / "corpus"))
    write_demo_models(tmp_path / "models", seed=0)
    args = (f"MODELS={W} {H}", f"CKPT_{W}={tmp_path}/models/{W}",
            f"CKPT_{H}={tmp_path}/models/{H}.pt", "TRAIN_SPLITS=train-clean-100",
            f"INTER_WITH={W}", f"ANALYSES={RUN_ANALYSES}", "PER_LAYER=0", "UTTERANCES=3",
            "WORDS=4", "INSTANCES=2", "MI_WORD_OPTS=--clusters 4", "DEVICE=cpu",
            f"LWA={sys.executable} -m lwa_cli -q")
    start = time.monotonic()
    first = _make(tmp_path, "-j2", *args)
    took = time.monotonic() - start
    ws = tmp_path / "study" / "workspace"
    df = results.load(ws)
    assert df.attrs["n_stale"] == 0
    got = {(m, a): sorted(set(g.layer)) for (m, a), g in df.groupby(["model", "analysis"])}
    assert sorted(got) == [(H, "cca-inter"), (H, "cca-mel"), (H, "mi-word"), (H, "wordsim"),
                           (W, "cca-mel"), (W, "mi-word"), (W, "wordsim")]
    # Layers as each checkpoint has them (demo HuBERT: 2 transformer layers, W: 3).
    assert got[(H, "wordsim")] == ["T0", "T1", "T2"]
    assert got[(W, "wordsim")] == ["T0", "T1", "T2", "T3"]
    assert got[(W, "cca-mel")] == sorted([*(f"C{i}" for i in range(1, 8)), "T1", "T2", "T3"])
    stamps = tmp_path / "study" / "stamps"
    assert (stamps / W / "layers.mk").read_text().split("\n")[:2] == [
        f"NCONV_{W} ?= 7", f"NLAYERS_{W} ?= 3"]
    assert (tmp_path / "study" / "report" / "index.html").is_file()
    assert (tmp_path / "study" / "report" / "pdf" / "profile.pdf").is_file()
    assert "lwa_cli -q extract" in first.stdout, took

    again = _make(tmp_path, "-j2", *args, "analyses")
    assert "lwa_cli" not in again.stdout and "extract" not in again.stdout

    before = lwa_json(ws, "report", "--out", str(tmp_path / "before"))
    removed = lwa_json(ws, "clean", "features")["removed"]
    assert {e["model"] for e in removed} == {W, H} and len(removed) == 2 * 5
    assert not list((ws / "features").rglob("*.h5"))
    after = lwa_json(ws, "report", "--out", str(tmp_path / "after"))
    assert after["n_stale"] == 0 and after["n_records"] == before["n_records"] == len(df)
    assert after["rows"] == before["rows"]
    # The recipe does nothing either: its stamps stand, and lwa would need no recompute.
    assert "lwa_cli" not in _make(tmp_path, *args, "analyses").stdout
