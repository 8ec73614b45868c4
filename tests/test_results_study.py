"""docs/study.md: its Python example runs as written; the study recipe's dry run (make -n)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lwa_cli.workspace import Workspace
from lwa_cli.workspace.results import save_result

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "examples" / "librispeech.mk"


# Where each document keeps its Python example (the README's is the same example).
EXAMPLES = {"docs/study.md": r"## 7\..*?```python\n(.*?)```",
            "README.md": r"## Python API.*?```python\n(.*?)```"}


def _example(doc: str) -> str:
    match = re.search(EXAMPLES[doc], (ROOT / doc).read_text(), re.S)
    assert match, f"{doc} lost its Python example"
    return match.group(1)


@pytest.mark.parametrize("doc", sorted(EXAMPLES))
def test_python_example_runs_as_written_on_a_demo_workspace(tmp_path, monkeypatch, doc):
    # The demo's layout and names (demo-run/workspace, demo_wav2vec2, T0-T3), current results.
    ws = Workspace(tmp_path / "demo-run" / "workspace").ensure()
    for t in range(4):
        common = {"model": "demo_wav2vec2", "sample": "1", "layer": f"T{t}", "inputs": {},
                  "options": {}, "provenance": "synthetic"}
        save_result(ws, {**common, "analysis": "cca-phone", "split": "dev-clean",
                         "score": 0.1 + 0.01 * t, "metric": "pwcca"})
        save_result(ws, {**common, "analysis": "mi-phone", "split": "dev-clean", "iter": 0,
                         "score": [0.17, 0.19, 0.18, 0.16][t]}, tag="iter0")
        save_result(ws, {**common, "analysis": "wordsim", "split": "train-clean",
                         "score": 0.01 * t, "micro": 0.01 * t, "macro": 0.02})
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_example(doc), str(ROOT / doc), "exec"), {})  # noqa: S102 - the documented example
    text = out.getvalue()
    assert text.startswith("0 stale results left out")
    assert re.search(r"demo_wav2vec2\s+T3\s+1\.0+\s+0\.13", text)  # depth 3/3, score
    assert re.search(r"mi-phone\s+demo_wav2vec2\s+T1\s+0\.19", text)  # the best MI layer
    assert re.search(r"wordsim\s+demo_wav2vec2\s+T3\s+0\.03", text)


def _dry_run(tmp_path: Path, *overrides: str) -> list[str]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    demo = tmp_path / "demo-run"
    # Run as a user would, also when the suite itself runs under `make test` (a nested make
    # would print "Entering directory" lines and inherit the outer make's flags).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    args = ["make", "--no-print-directory", "-n", "-f", str(RECIPE),
            f"CKPT={demo}/models/demo_wav2vec2",
            f"LIBRISPEECH={demo}/corpus/LibriSpeech", f"ALIGN={demo}/corpus/alignments",
            f"WS={tmp_path}/study/workspace", *overrides]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True, env=env)
    return done.stdout.splitlines()


def _flat(lines: list[str]) -> str:
    """The commands with their line continuations joined and spaces collapsed."""
    return re.sub(r"[ \t]+", " ", re.sub(r"\\\n\s*", " ", "\n".join(lines)))


def test_recipe_dry_run_covers_every_analysis_per_layer(tmp_path):
    lines = _dry_run(tmp_path, "MODEL=demo_wav2vec2", "NLAYERS=3")
    text = "\n".join(lines)
    assert "lwa prepare-alignments --corpus" in text and "--split train-clean-360" in text
    for needed in ("lwa sample frame --split dev-clean --utterances 500",
                   "lwa sample word --split train-clean --words 500",
                   "lwa sample wordsim --split train-clean --instances 200",
                   "lwa embeddings one-hot --words 500",
                   "--span frame --rep local", "--split train-clean --span word"):
        assert needed in text, needed
    per_layer = [line for line in lines if line.startswith("lwa --threads 1 ")]
    # mel C1-7 T1-3, intra T1-3, 6 × T0-3 (cca phone/word, mi phone/word, wordsim, abx),
    # 3 × T0-3 (probe phone/word/speaker)
    assert len(per_layer) == 10 + 3 + 4 + 4 + 4 + 4 + 4 + 4 + 3 * 4
    assert "lwa --threads 1 abx --model demo_wav2vec2 --layer T2 --speaker both --device auto" \
        in lines
    assert "lwa --threads 1 probe phone --model demo_wav2vec2 --layer T3 --mdl --device auto" \
        in lines
    assert "lwa --threads 1 cca mel --model demo_wav2vec2 --layer C7 --device auto" in lines
    assert "lwa --threads 1 mi word --model demo_wav2vec2 --layer T3 --iter 0 --device auto" in \
        _flat(lines)
    assert "lwa --threads 1 wordsim --model demo_wav2vec2 --layer T0" in lines
    assert not any("cca inter" in line for line in lines)  # only with OTHER=
    assert lines[-2:] == [f"lwa report --out {tmp_path}/study/report",
                          f"lwa report --out {tmp_path}/study/report/pdf --format pdf --dpi 300"]
    # extraction once per span, before the layers that need it
    assert sum("lwa extract" in line for line in lines) == 8  # + train-clean frames (probe)


def test_recipe_follows_the_model(tmp_path):
    large = _dry_run(tmp_path, "MODEL=hubert_large", "ITERS=0 1", "OTHER=hubert_base",
                     "OTHER_CKPT=ckpt/hubert_base")
    text = _flat(large)
    assert "cca phone --model hubert_large --layer T24" in text
    assert "--layer T25" not in text
    assert "mi phone --model hubert_large --layer T24 --iter 1" in text
    assert "cca inter --model hubert_large --other-model hubert_base --layer T0" in text
    av = "\n".join(_dry_run(tmp_path, "MODEL=avhubert_base_lrs3"))
    assert "cca mel" not in av and "--rep local" not in av  # no conv layers, no local rep
    assert "cca phone --model avhubert_base_lrs3 --layer T12" in av
    fast = "\n".join(_dry_run(tmp_path, "MODEL=fastvgs_coco"))
    assert "--layer T8 " in fast and "--layer T9 " not in fast
