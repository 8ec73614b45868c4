"""The CPU side of benchmarks/gpu_check.py: its checks compare and its table fails loudly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cca_check_on_the_cpu_passes_and_reports_its_size(gpu_check, capsys):
    table = gpu_check.Table()
    gpu_check.check_cca(table, "cpu", rows=600, dims=5)
    (check, value, verdict, note), = table.rows
    assert check == "cca stats cpu vs cpu" and value == "rel 0.0e+00" and verdict == "ok"
    assert note.startswith("600×10:")
    table.print()
    assert capsys.readouterr().out.strip().endswith("RESULT: PASS")


def test_a_result_beyond_tolerance_fails_the_table(gpu_check, capsys):
    table = gpu_check.Table()
    table.add("a", "1", True)
    table.add("b", "2", None, "no verdict")
    assert not table.failed
    table.add("x vs cpu", "rel 1e-1", False)
    assert table.failed
    table.print()
    out = capsys.readouterr().out
    assert "FAIL" in out.splitlines()[3] and out.strip().endswith("RESULT: FAIL")
    assert gpu_check._rel_delta(gpu_check.np.array([2.0, -4.0]),
                                gpu_check.np.array([2.0, -3.0])) == pytest.approx(0.25)


def test_no_gpu_is_a_setup_error_not_a_pass(gpu_check, monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("sys.argv", ["gpu_check.py", "--device", "cuda"])
    assert gpu_check.main() == 2
    assert "sees no GPU" in capsys.readouterr().err
