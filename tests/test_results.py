"""Results as data: `lwa_cli.results.load/summary` (DataFrames) and `lwa results` formats."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from lwa_cli.cli.common import out_console
from lwa_cli.errors import LwaUsageError
from lwa_cli.results import SUMMARY_COLUMNS, format_summary, load, summary
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.results import save_result
from tests.cli_runner import lwa


def _save(ws, record, **kw):
    save_result(ws, {"inputs": {}, "options": {}, "provenance": "synthetic", **record}, **kw)


def mi(sample: str, iteration: int, t: int) -> float:
    return 0.2 + 0.01 * t + 0.003 * int(sample) + 0.007 * iteration ** 2


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    """mi-phone (2 samples × 2 iterations, T0-T3), cca-phone with CV trials (T0-T3),
    wordsim (T0-T3), and one stale cca-phone result (its features file is gone)."""
    ws = Workspace(tmp_path / "ws").ensure()
    for sample in ("1", "2"):
        for it in (0, 1):
            for t in range(4):
                _save(ws, {"analysis": "mi-phone", "model": "hubert_base", "split": "dev-clean",
                           "sample": sample, "iter": it, "layer": f"T{t}",
                           "score": mi(sample, it, t), "n_clusters": 500},
                      tag=f"iter{it}")
    for t in range(4):
        _save(ws, {"analysis": "cca-phone", "model": "hubert_base", "split": "dev-clean",
                   "sample": "1", "layer": f"T{t}", "metric": "pwcca", "score": 0.4 + 0.1 * t,
                   "trial_scores": [0.4 + 0.1 * t - 0.01, 0.4 + 0.1 * t + 0.01]})
        _save(ws, {"analysis": "wordsim", "model": "hubert_base", "split": "train-clean",
                   "sample": "1", "layer": f"T{t}", "score": 0.05 * t, "micro": 0.05 * t,
                   "macro": 0.1, "benchmarks": {"men": {"rho": 0.02 * t, "pairs_kept": 7}}})
    save_result(ws, {"analysis": "cca-phone", "model": "hubert_base", "split": "dev-clean",
                     "sample": "2", "layer": "T0", "metric": "pwcca", "score": 0.99,
                     "options": {}, "provenance": "x",
                     "inputs": {"features": {"kind": "features", "path": "features/gone.h5",
                                             "fingerprint": "abc"}}})
    return ws


def test_load_is_tidy_one_row_per_current_result(ws):
    df = load(ws)
    assert len(df) == 16 + 4 + 4  # the stale result is left out ...
    assert df.attrs["n_stale"] == 1  # ... and counted
    assert df.attrs["stale"][0][0].endswith("T0.json") and "features" in df.attrs["stale"][0][1]
    assert list(df.columns[:13]) == ["model", "analysis", "split", "sample", "iter", "layer",
                                     "block", "number", "n_layers", "layer_index", "depth",
                                     "variant", "score"]
    mi_rows = df[(df.analysis == "mi-phone") & (df.layer == "T2")]
    assert sorted(mi_rows.score) == pytest.approx(sorted(mi(s, i, 2) for s in "12"
                                                         for i in (0, 1)))
    assert set(mi_rows.iter) == {0, 1} and set(mi_rows["sample"]) == {"1", "2"}
    row = df[(df.analysis == "cca-phone") & (df.layer == "T3")].iloc[0]
    assert row.score == pytest.approx(0.7) and row.depth == pytest.approx(0.25)  # L = 12
    assert (row.block, row.number, row.n_layers, row.n_trials) == ("transformer", 3, 12, 2)
    assert row.trial_std == pytest.approx(np.std([0.69, 0.71], ddof=1))
    ws_row = df[(df.analysis == "wordsim") & (df.layer == "T2")].iloc[0]
    assert ws_row.macro == 0.1 and ws_row.rho_men == pytest.approx(0.04)
    only = load(ws, analysis="wordsim", layer=["T1", "T3"])
    assert list(only.layer) == ["T1", "T3"] and set(only.analysis) == {"wordsim"}
    with pytest.raises(LwaUsageError, match="--model nope"):
        load(ws.root, model="nope")
    with pytest.raises(LwaUsageError, match="layer='T9': no stored results; stored: T0, T1"):
        load(ws, layer=["T1", "T9"])


def test_summary_means_std_and_measures(ws):
    df = summary(str(ws.root), analysis=["mi-phone", "wordsim"])
    t1 = df[(df.analysis == "mi-phone") & (df.layer == "T1")].iloc[0]
    values = [mi(s, i, 1) for s in "12" for i in (0, 1)]
    assert t1["mean"] == pytest.approx(np.mean(values), abs=1e-15)
    assert t1["std"] == pytest.approx(np.std(values, ddof=1), rel=1e-12)
    assert (t1.n, t1.n_samples, t1.n_iters) == (4, 2, 2)
    measures = df[(df.analysis == "wordsim") & (df.layer == "T2")]
    assert dict(zip(measures.measure, measures["mean"], strict=True)) == pytest.approx(
        {"score": 0.1, "macro": 0.1, "rho_men": 0.04})
    assert measures["std"].isna().all()  # one result each: no spread


def _run(ws, *args):
    return lwa(ws.root, "--debug", "results", *args, code=None, quiet=False)


def test_cli_formats(ws, monkeypatch, tmp_path):
    monkeypatch.setattr(out_console, "width", 200)
    before = sorted(p.name for p in ws.root.rglob("*"))
    table = _run(ws, "--analysis", "cca-phone")
    assert table.exit_code == 0, table.output
    assert "0.7000" in table.stdout and "CV trial std" in table.stdout
    assert "1 stale result(s) left out" in table.stderr
    as_csv = _run(ws, "--analysis", "mi-phone", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(rows[0]) == list(SUMMARY_COLUMNS) and len(rows) == 4
    assert float(rows[1]["mean"]) == pytest.approx(np.mean([mi(s, i, 1) for s in "12"
                                                            for i in (0, 1)]), rel=1e-5)
    assert rows[1]["n"] == "4" and rows[1]["trial_std"] == ""
    tsv = _run(ws, "--analysis", "wordsim", "--measure", "macro", "--format", "tsv")
    lines = tsv.stdout.splitlines()
    assert lines[0].split("\t") == list(SUMMARY_COLUMNS) and len(lines) == 5
    assert all(line.split("\t")[4] == "macro" for line in lines[1:])
    js = json.loads(_run(ws, "--layer", "T0", "--format", "json").stdout)
    assert {(r["analysis"], r["measure"]) for r in js} == {
        ("mi-phone", "score"), ("cca-phone", "score"), ("wordsim", "score"),
        ("wordsim", "macro"), ("wordsim", "rho_men")}
    assert next(r for r in js if r["analysis"] == "wordsim")["std"] is None
    assert sorted(p.name for p in ws.root.rglob("*")) == before  # nothing written
    bad = _run(ws, "--format", "xml")
    assert bad.exit_code != 0 and isinstance(bad.exception, LwaUsageError)
    with pytest.raises(ValueError, match="csv, tsv, json"):
        format_summary([], "table")


def test_cli_json_flag_and_unknown_measure(ws):
    as_flag = _run(ws, "--analysis", "cca-phone", "--json")
    assert as_flag.exit_code == 0, as_flag.output
    assert json.loads(as_flag.stdout) == json.loads(
        _run(ws, "--analysis", "cca-phone", "--format", "json").stdout)
    assert [r["mean"] for r in json.loads(as_flag.stdout)] == pytest.approx([0.4, 0.5, 0.6, 0.7])
    both = _run(ws, "--json", "--format", "csv")
    assert isinstance(both.exception, LwaUsageError) and "--json" in str(both.exception)
    unknown = _run(ws, "--analysis", "wordsim", "--measure", "micro")
    assert isinstance(unknown.exception, LwaUsageError)
    assert "--measure micro" in str(unknown.exception)
    assert "macro, rho_men, score" in str(unknown.exception)
    assert unknown.stdout == ""  # no empty table


def test_cli_unknown_measure_exits_2(ws):
    from tests.cli_runner import lwa

    result = lwa(ws.root, "results", "--measure", "micro", code=2)
    assert "--measure micro" in result.output and "rho_men" in result.output
    js = json.loads(lwa(ws.root, "results", "--measure", "macro", "--json").stdout)
    assert [r["mean"] for r in js] == pytest.approx([0.1] * 4)
