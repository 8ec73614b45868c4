"""`lwa_cli.threads.limit_threads`: BLAS/OpenMP pools, torch and the children's environment.

The cap changes process-wide state, so each case runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lwa_cli.errors import LwaUsageError
from lwa_cli.threads import THREAD_ENV_VARS, check_threads, limit_threads

REPO_ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import json, os, subprocess, sys
{before}
from lwa_cli.threads import limit_threads
limit_threads({n})
{after}
import torch
from threadpoolctl import threadpool_info
child = subprocess.run([sys.executable, "-c", "import os; print(os.environ['OMP_NUM_THREADS'])"],
                       capture_output=True, text=True, check=True).stdout.strip()
print(json.dumps({{
    "pools": [(p["user_api"], p["internal_api"], p["num_threads"]) for p in threadpool_info()],
    "torch": torch.get_num_threads(),
    "env": {{k: os.environ.get(k) for k in {names!r}}},
    "child_omp": child,
}}))
"""


def _probe(n: int, *, torch_first: bool) -> dict:
    """Run `limit_threads(n)` in a fresh interpreter and report what each library sees."""
    before = "import numpy, scipy.linalg, sklearn.cluster" + (", torch" if torch_first else "")
    # Libraries imported after the cap must start capped too (through the environment).
    after = "" if torch_first else "import numpy, scipy.linalg, sklearn.cluster"
    code = _PROBE.format(before=before, after=after, n=n, names=THREAD_ENV_VARS)
    env = {k: v for k, v in os.environ.items() if k not in THREAD_ENV_VARS}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("torch_first", [True, False], ids=["torch-loaded", "torch-later"])
def test_one_thread_cap_reaches_blas_openmp_torch_and_children(torch_first: bool) -> None:
    got = _probe(1, torch_first=torch_first)
    apis = {api for api, _, _ in got["pools"]}
    assert "blas" in apis and "openmp" in apis  # numpy's OpenBLAS, scikit-learn's OpenMP
    assert all(threads == 1 for _, _, threads in got["pools"]), got["pools"]
    assert got["torch"] == 1
    assert got["env"] == {name: "1" for name in THREAD_ENV_VARS}
    assert got["child_omp"] == "1"


def test_a_cap_above_one_is_applied_as_given() -> None:
    got = _probe(3, torch_first=True)
    assert all(threads == 3 for _, _, threads in got["pools"]), got["pools"]
    assert got["torch"] == 3
    assert got["env"]["OMP_NUM_THREADS"] == "3"


def test_none_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in THREAD_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    limit_threads(None)
    assert all(name not in os.environ for name in THREAD_ENV_VARS)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_bad_thread_counts_are_usage_errors_naming_the_option(bad: object) -> None:
    with pytest.raises(LwaUsageError, match="--threads must be a positive integer"):
        limit_threads(bad)  # type: ignore[arg-type]
    assert check_threads(4) == 4
