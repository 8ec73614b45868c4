"""One layer vocabulary, parameter-named API errors and their flags on the command line,
and the one `--tolerance` unit (issue 17 items 4 and 5)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import lwa_cli
from lwa_cli.analysis.cca import cross_validated_pwcca, fit_cca
from lwa_cli.analysis.cca import cv as cca_cv
from lwa_cli.analysis.cca import fit as cca_fit
from lwa_cli.analysis.mi import mi_score
from lwa_cli.analysis.mi.kmeans import check_kmeans_settings
from lwa_cli.cli.common import cli_error, flag_of, flags_in
from lwa_cli.errors import LwaError, LwaUsageError, param_error
from lwa_cli.models.layers import (
    canonical_layer,
    is_conv,
    is_transformer,
    layer_index,
    layer_kind,
    layer_sort_key,
    match_layers,
    parse_layers,
    split_layer,
)
from lwa_cli.pipeline.cca import resolve_null_tol
from lwa_cli.pipeline.mi import run_mi
from lwa_cli.pipeline.segment.files import interval_tolerance_frames
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.results import save_result
from tests.cli_runner import lwa

# ------------------------------------------------------------------ the layer vocabulary


def test_layer_name_helpers():
    assert split_layer("C3") == ("C", 3) and split_layer("T10") == ("T", 10)
    assert split_layer("t3") is None and split_layer("X1") is None and split_layer(3) is None
    assert [layer_kind(n) for n in ("C7", "T0")] == ["C", "T"]
    assert is_conv("C1") and not is_conv("T1") and is_transformer("T0")
    assert layer_index("C7") == 7 and layer_index("T12") == 12
    names = ["T10", "C2", "T2", "C10", "T0"]
    assert sorted(names, key=layer_sort_key) == ["C2", "C10", "T0", "T2", "T10"]
    with pytest.raises(ValueError, match="not a layer name: 'X3'"):
        layer_kind("X3")
    with pytest.raises(ValueError, match="not a layer name"):
        is_conv("conv1")


def test_canonical_layer_reads_any_case_and_names_the_parameter():
    assert canonical_layer("t0") == "T0" and canonical_layer(" c3 ") == "C3"
    with pytest.raises(LwaUsageError, match=r"^base_layer='x9' is not a layer name") as err:
        canonical_layer("x9", param="base_layer")
    assert err.value.params == ("base_layer",)


def test_parse_layers_names_the_callers_parameter():
    with pytest.raises(LwaUsageError, match=r"^layers='T13' is out of range; valid layers of m: "
                                            r"C1-C7, T0-T12") as err:
        parse_layers(["T4", "T13"], 7, 12, model="m")
    assert err.value.params == ("layers",)
    with pytest.raises(LwaUsageError, match=r"^layer='t2-t1' is an empty range"):
        parse_layers(["t2-t1"], 7, 12, param="layer")


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        (["T1-T2"], ["T1", "T2"]),
        (["t0-t6"], ["T0", "T1", "T2", "T3"]),  # the stored part of the range
        (["T2-9"], ["T2", "T3"]),
        (["c"], ["C1", "C3"]),
        (["T"], ["T0", "T1", "T2", "T3"]),
        (["all"], ["C1", "C3", "T0", "T1", "T2", "T3"]),
        (["T3,C3", "t0"], ["C3", "T0", "T3"]),
    ],
)
def test_match_layers_ranges_and_groups(specs, expected):
    assert match_layers(specs, ["T3", "T0", "C3", "T1", "C1", "T2"]) == expected


def test_match_layers_says_what_is_stored():
    stored = ["T0", "T1", "C1"]
    with pytest.raises(LwaUsageError) as err:
        match_layers(["T9", "t0", "C2-C4"], stored)
    assert str(err.value) == "layer='T9, C2-C4': no stored results; stored: C1, T0, T1"
    assert cli_error(err.value).args[0] == \
        "--layer T9, C2-C4: no stored results; stored: C1, T0, T1"
    with pytest.raises(LwaUsageError, match="mixes conv and transformer"):
        match_layers(["C1-T3"], stored)


def test_no_other_layer_parser_remains():
    """Layer names are read by models/layers.py only: no prefix test or regex elsewhere."""
    root = Path(lwa_cli.__file__).parent
    patterns = [r"startswith\(\s*[\"'][CT][\"']", r"\[0\]\s*==\s*[\"'][CT][\"']",
                r"\[CT\]", r"C\[1-", r"T\\d"]
    offenders = []
    for path in root.rglob("*.py"):
        if path == root / "models" / "layers.py":
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(root)}: {p}" for p in patterns if re.search(p, text)]
    assert offenders == []


# ------------------------------------------------------------------ parameter-named errors


def test_flag_of_and_the_translation():
    assert flag_of("null_tol") == "--null-tol" and flag_of("layers") == "--layer"
    assert flag_of("n_clusters") == "--clusters" and flag_of("kmeans") == "--kmeans"
    err = param_error("kmeans", "x", "is not one of minibatch, faiss; or pick another `kmeans`")
    assert str(err) == "kmeans='x' is not one of minibatch, faiss; or pick another `kmeans`"
    shown = cli_error(err)
    assert str(shown) == "--kmeans x is not one of minibatch, faiss; or pick another --kmeans"
    assert type(shown) is LwaUsageError and shown.exit_code == 2 and shown.params == ("kmeans",)
    plain = LwaError("null_tol=0.5 stays as written without params")
    assert cli_error(plain) is plain
    assert flags_in("null_tol=1.5 and null_tol_x=2", ("null_tol",)) == \
        "--null-tol 1.5 and null_tol_x=2"
    assert flags_in('device="it\'s" x', ("device",)) == "--device it's x"


def test_kmeans_settings_are_checked_in_one_place_with_parameter_names():
    ok = dict(n_clusters=5, kmeans="minibatch", batch_size=10, max_iter=10, niter=20,
              fit_dtype="float64", device="cpu")
    check_kmeans_settings(**ok)
    for key, value, message in [
        ("kmeans", "x", "kmeans='x' is not one of minibatch, full, lloyd, faiss."),
        ("fit_dtype", "float16", "fit_dtype='float16' is not one of float64, float32."),
        ("device", "gpu", "device='gpu' is not one of cpu, cuda, cuda:N."),
        ("n_clusters", 0, "n_clusters=0 must be a positive integer."),
        ("niter", True, "niter=True must be a positive integer."),
    ]:
        with pytest.raises(LwaUsageError) as err:
            check_kmeans_settings(**{**ok, key: value})
        assert str(err.value) == message and err.value.params == (key,)
    x = np.random.default_rng(0).normal(size=(40, 3))
    with pytest.raises(LwaUsageError, match="^kmeans='x' is not one of"):
        mi_score(x, np.arange(40) % 4, n_clusters=4, kmeans="x")  # type: ignore[arg-type]


def test_run_mi_checks_kmeans_before_reading_anything(tmp_path):
    ws = Workspace(tmp_path / "ws").ensure()  # no features: the check comes first
    with pytest.raises(LwaUsageError, match="^kmeans='elkan' is not one of"):
        run_mi(ws, model="m", span="phone", kmeans="elkan")
    with pytest.raises(LwaUsageError, match="^span='utt' is not one of phone, word"):
        run_mi(ws, model="m", span="utt")


def test_null_tol_is_checked_once_per_call(monkeypatch):
    calls = []
    real = cca_cv.check_fraction

    def counting(label, value, *, upper_open):
        calls.append(label)
        return real(label, value, upper_open=upper_open)

    monkeypatch.setattr(cca_cv, "check_fraction", counting)
    monkeypatch.setattr(cca_fit, "check_fraction", counting)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4))
    y = x @ rng.normal(size=(4, 3)) + 0.5 * rng.normal(size=(300, 3))
    result = cross_validated_pwcca(x, y, n_trials=2, n_candidates=4, null_tol=1e-12, seed=0)
    assert 0 < result.score <= 1
    assert calls.count("null_tol") == 1  # not once per trial or candidate fit
    calls.clear()
    fit_cca(x, y, 1e-6, 1e-6, null_tol=1e-12)
    assert calls.count("null_tol") == 1
    with pytest.raises(LwaUsageError, match=r"^null_tol=1.5 must be a number in \[0, 1\)"):
        resolve_null_tol("1.5", "phone")
    with pytest.raises(LwaUsageError, match=r"^null_tol='abc' must be auto, off or a number"):
        resolve_null_tol("abc", "phone")
    assert resolve_null_tol("auto", "phone") == 1e-12 and resolve_null_tol("off", "phone") is None


def test_analysis_messages_name_parameters_not_flags():
    """No message in analysis/ names a command-line flag: the CLI adds them."""
    root = Path(lwa_cli.__file__).parent / "analysis"
    flagged = [f"{p.name}: {m}" for p in root.rglob("*.py")
               for m in re.findall(r"[\"'][^\"'\n]*(?<![\w`-])--[a-z][\w-]*", p.read_text())]
    assert flagged == []


# ------------------------------------------------------------------ flags on the command line


def test_cli_messages_name_flags(tmp_path):
    ws = tmp_path / "ws"
    out = lwa(ws, "mi", "phone", "--model", "m", "--kmeans", "elkan", code=2).output
    assert "--kmeans elkan is not one of minibatch, full, lloyd, faiss" in out
    assert "kmeans=" not in out
    out = lwa(ws, "cca", "phone", "--model", "m", "--null-tol", "abc", code=2).output
    assert "--null-tol abc must be auto, off or a number" in out
    out = lwa(ws, "cca", "phone", "--model", "m", "--null-tol", "1.5", code=2).output
    assert "--null-tol 1.5 must be a number in [0, 1) or None" in out
    out = lwa(ws, "cca", "intra", "--model", "m", "--base-layer", "x9", code=2).output
    assert "--base-layer x9 is not a layer name" in out
    out = lwa(ws, "cca", "inter", "--model", "m", code=2).output
    assert "cca inter needs --other-model" in out


@pytest.fixture()
def stored(tmp_path) -> Path:
    """cca-phone results of C1 and T0-T3 of one model."""
    ws = Workspace(tmp_path / "ws").ensure()
    for i, layer in enumerate(["C1", "T0", "T1", "T2", "T3"]):
        save_result(ws, {"inputs": {}, "options": {}, "provenance": "synthetic",
                         "analysis": "cca-phone", "model": "hubert_base", "split": "dev-clean",
                         "sample": "1", "layer": layer, "score": 0.1 * (i + 1)})
    return ws.root


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--layer", "T1-T2"], ["T1", "T2"]),
        (["--layer", "t0-t6"], ["T0", "T1", "T2", "T3"]),
        (["--layer", "C"], ["C1"]),
        (["--layer", "all"], ["C1", "T0", "T1", "T2", "T3"]),
        (["--layer", "T3,c1", "--layer", "T0"], ["C1", "T0", "T3"]),
    ],
)
def test_results_layer_ranges_and_groups(stored, args, expected):
    rows = json.loads(lwa(stored, "results", *args, "--format", "json").stdout)
    assert [r["layer"] for r in rows] == expected
    assert [r["mean"] for r in rows] == pytest.approx(
        [0.1 * (["C1", "T0", "T1", "T2", "T3"].index(n) + 1) for n in expected])


def test_results_layer_not_stored_names_the_flag(stored):
    out = lwa(stored, "results", "--layer", "T9", code=2).output
    assert "--layer T9: no stored results; stored: C1, T0, T1, T2, T3" in out
    assert "not a layer name" in lwa(stored, "results", "--layer", "X1", code=2).output


# ------------------------------------------------------------------ one tolerance unit


@pytest.mark.parametrize(("seconds", "frames"), [(0.02, 2), (0.0, 0), (0.05, 5), (0.13, 13)])
def test_tolerance_in_seconds(seconds, frames):
    assert interval_tolerance_frames(seconds) == (frames, None)


def test_tolerance_old_spelling_in_frames_is_converted_with_a_note():
    frames, note = interval_tolerance_frames(2)
    assert frames == 2
    assert note == ("tolerance=2 is read as 2 frames of 10 ms (±0.02 s), the old unit; the unit "
                    "is seconds now: give tolerance=0.02")
    assert flags_in(note, ("tolerance",)).startswith("--tolerance 2 is read as 2 frames")
    assert interval_tolerance_frames(3.0)[0] == 3


@pytest.mark.parametrize(("value", "message"), [
    (0.015, "tolerance=0.015 is not a whole number of 10 ms frames"),
    (1.5, "tolerance=1.5 is a second or more; give seconds"),
    (-0.02, "tolerance=-0.02 must be a number of seconds >= 0"),
    (float("nan"), "tolerance=nan must be a number of seconds >= 0"),
])
def test_tolerance_errors(value, message):
    with pytest.raises(LwaUsageError, match=re.escape(message)):
        interval_tolerance_frames(value)


def test_segment_score_tolerance_seconds_and_frames(tmp_path):
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    ref.mkdir()
    hyp.mkdir()
    (ref / "u1.txt").write_text("0 10 a\n10 30 b\n30 50 c\n")
    (hyp / "u1.txt").write_text("0 13 a\n13 31 b\n31 50 c\n")  # 3 and 1 frames off
    ws = tmp_path / "ws"

    def score(*tol: str):
        res = lwa(ws, "segment", "score", "--ref", str(ref), "--hyp", str(hyp), *tol, "--json",
                  quiet=False)
        return json.loads(res.stdout), res.stderr

    default, note = score()
    assert (default["tolerance_s"], default["tolerance_frames"]) == (0.02, 2) and not note
    seconds, note = score("--tolerance", "0.02")
    assert seconds == default and not note
    frames, note = score("--tolerance", "2")
    assert frames == default
    assert "--tolerance 2 is read as 2 frames of 10 ms" in note and "give --tolerance 0.02" in note
    # The boundary at 13 (3 frames from 10) is a hit at ±0.03 s only.
    wide, _ = score("--tolerance", "0.03")
    assert wide["tolerance_frames"] == 3
    assert wide["boundary"]["recall"] > default["boundary"]["recall"]
    out = lwa(ws, "segment", "score", "--ref", str(ref), "--hyp", str(hyp), "--tolerance",
              "0.015", code=2).output
    assert "--tolerance 0.015 is not a whole number of 10 ms frames" in out


def test_shared_options_are_declared_once():
    """--seed, --model, --layer, --split, --sample, --device, --json and --force: cli/common.py."""
    root = Path(lwa_cli.__file__).parent / "cli"
    shared = ("--seed", "--model", "--layer", "--split", "--sample", "--device", "--json",
              "--force")
    declared = [f"{p.name}: {flag}" for p in root.glob("*.py") if p.name != "common.py"
                for flag in shared if re.search(rf"Option\([^)]*[\"']{flag}[\"']", p.read_text())]
    assert declared == []
