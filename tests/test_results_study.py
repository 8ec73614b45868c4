"""docs/study.md: its Python example runs as written (the recipe: tests/test_study_recipe.py)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from lwa_cli.workspace import Workspace
from lwa_cli.workspace.results import save_result

ROOT = Path(__file__).resolve().parent.parent


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
