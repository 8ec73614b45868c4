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
snapshots = []
for n in {caps!r}:
    limit_threads(n)
    {after}
    import torch
    from threadpoolctl import threadpool_info
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ['OMP_NUM_THREADS'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    snapshots.append({{
        "pools": [(p["user_api"], p["internal_api"], p["num_threads"])
                  for p in threadpool_info()],
        "torch": torch.get_num_threads(),
        "env": {{k: os.environ.get(k) for k in {names!r}}},
        "child_omp": child,
    }})
print(json.dumps(snapshots))
"""


def _probe(caps: list[int], *, torch_first: bool) -> list[dict]:
    """Apply each cap in turn in a fresh interpreter; report what each library sees."""
    before = "import numpy, scipy.linalg, sklearn.cluster" + (", torch" if torch_first else "")
    # Libraries imported after the cap must start capped too (through the environment).
    after = "pass" if torch_first else "import numpy, scipy.linalg, sklearn.cluster"
    code = _PROBE.format(before=before, after=after, caps=caps, names=THREAD_ENV_VARS)
    env = {k: v for k, v in os.environ.items() if k not in THREAD_ENV_VARS}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _assert_capped(got: dict, n: int) -> None:
    apis = {api for api, _, _ in got["pools"]}
    assert "blas" in apis and "openmp" in apis  # numpy's OpenBLAS, scikit-learn's OpenMP
    assert all(threads == n for _, _, threads in got["pools"]), got["pools"]
    assert got["torch"] == n
    assert got["env"] == {name: str(n) for name in THREAD_ENV_VARS}
    assert got["child_omp"] == str(n)


def test_caps_reach_loaded_blas_openmp_torch_and_children() -> None:
    three, one = _probe([3, 1], torch_first=True)
    _assert_capped(three, 3)
    _assert_capped(one, 1)  # a second call lowers the cap again


def test_libraries_loaded_after_the_cap_start_capped() -> None:
    (one,) = _probe([1], torch_first=False)
    _assert_capped(one, 1)


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
