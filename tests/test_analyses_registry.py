"""The analysis registry (`lwa_cli.analyses`): coverage, derived tags, choices and titles.

The tag tables were computed with the five hand-written tag builders this registry replaced
(`cca.result_tag`, `mi.mi_tag`, `awd.awd_tag`, `sts.sts_tag`, `segment.segment_tag`) and
are hard-coded here: a tag that changes renames result files, so workspaces written before
would stop finding their results.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

import lwa_cli.pipeline
from lwa_cli import choices
from lwa_cli.analyses import ANALYSES, TagPart, get_analysis, producers, result_tag, step_function
from lwa_cli.pipeline.awd import AWDOptions
from lwa_cli.pipeline.cca import CCAOptions
from lwa_cli.pipeline.mi import MIOptions
from lwa_cli.pipeline.results import UNSET, ResultSpec, options_of, record_fields_of
from lwa_cli.pipeline.segment import SegmentOptions
from lwa_cli.pipeline.sts import STSOptions
from lwa_cli.pipeline.wordsim import WordsimOptions

CCA_TAGS = [
    ('mel', 'pwcca', False, 'T0', None, None, None),
    ('mel', 'pwcca', True, 'T0', None, None, 'mean'),
    ('mel', 'svcca', False, 'T0', None, None, 'svcca'),
    ('mel', 'svcca', True, 'T0', None, None, 'svcca-mean'),
    ('mel', 'cka', False, 'T0', None, None, 'cka'),
    ('mel', 'cka', True, 'T0', None, None, 'cka-mean'),
    ('intra', 'pwcca', False, 'T0', None, None, None),
    ('intra', 'pwcca', False, 'T3', None, None, 'base-T3'),
    ('intra', 'pwcca', True, 'T0', None, None, 'mean'),
    ('intra', 'pwcca', True, 'T3', None, None, 'base-T3-mean'),
    ('intra', 'svcca', False, 'T0', None, None, 'svcca'),
    ('intra', 'svcca', False, 'T3', None, None, 'base-T3-svcca'),
    ('intra', 'svcca', True, 'T0', None, None, 'svcca-mean'),
    ('intra', 'svcca', True, 'T3', None, None, 'base-T3-svcca-mean'),
    ('intra', 'cka', False, 'T0', None, None, 'cka'),
    ('intra', 'cka', False, 'T3', None, None, 'base-T3-cka'),
    ('intra', 'cka', True, 'T0', None, None, 'cka-mean'),
    ('intra', 'cka', True, 'T3', None, None, 'base-T3-cka-mean'),
    ('inter', 'pwcca', False, 'T0', 'demo_hubert', None, 'vs-demo_hubert'),
    ('inter', 'pwcca', True, 'T0', 'demo_hubert', None, 'vs-demo_hubert-mean'),
    ('inter', 'svcca', False, 'T0', 'demo_hubert', None, 'vs-demo_hubert-svcca'),
    ('inter', 'svcca', True, 'T0', 'demo_hubert', None, 'vs-demo_hubert-svcca-mean'),
    ('inter', 'cka', False, 'T0', 'demo_hubert', None, 'vs-demo_hubert-cka'),
    ('inter', 'cka', True, 'T0', 'demo_hubert', None, 'vs-demo_hubert-cka-mean'),
    ('phone', 'pwcca', False, 'T0', None, None, None),
    ('phone', 'pwcca', True, 'T0', None, None, 'mean'),
    ('phone', 'svcca', False, 'T0', None, None, 'svcca'),
    ('phone', 'svcca', True, 'T0', None, None, 'svcca-mean'),
    ('phone', 'cka', False, 'T0', None, None, 'cka'),
    ('phone', 'cka', True, 'T0', None, None, 'cka-mean'),
    ('word', 'pwcca', False, 'T0', None, None, None),
    ('word', 'pwcca', True, 'T0', None, None, 'mean'),
    ('word', 'svcca', False, 'T0', None, None, 'svcca'),
    ('word', 'svcca', True, 'T0', None, None, 'svcca-mean'),
    ('word', 'cka', False, 'T0', None, None, 'cka'),
    ('word', 'cka', True, 'T0', None, None, 'cka-mean'),
    ('semantic', 'pwcca', False, 'T0', None, None, None),
    ('semantic', 'pwcca', False, 'T0', None, 5, 'cap5'),
    ('semantic', 'pwcca', True, 'T0', None, None, 'mean'),
    ('semantic', 'pwcca', True, 'T0', None, 5, 'cap5-mean'),
    ('semantic', 'svcca', False, 'T0', None, None, 'svcca'),
    ('semantic', 'svcca', False, 'T0', None, 5, 'cap5-svcca'),
    ('semantic', 'svcca', True, 'T0', None, None, 'svcca-mean'),
    ('semantic', 'svcca', True, 'T0', None, 5, 'cap5-svcca-mean'),
    ('semantic', 'cka', False, 'T0', None, None, 'cka'),
    ('semantic', 'cka', False, 'T0', None, 5, 'cap5-cka'),
    ('semantic', 'cka', True, 'T0', None, None, 'cka-mean'),
    ('semantic', 'cka', True, 'T0', None, 5, 'cap5-cka-mean'),
    ('syntactic', 'pwcca', False, 'T0', None, None, None),
    ('syntactic', 'pwcca', False, 'T0', None, 5, 'cap5'),
    ('syntactic', 'pwcca', True, 'T0', None, None, 'mean'),
    ('syntactic', 'pwcca', True, 'T0', None, 5, 'cap5-mean'),
    ('syntactic', 'svcca', False, 'T0', None, None, 'svcca'),
    ('syntactic', 'svcca', False, 'T0', None, 5, 'cap5-svcca'),
    ('syntactic', 'svcca', True, 'T0', None, None, 'svcca-mean'),
    ('syntactic', 'svcca', True, 'T0', None, 5, 'cap5-svcca-mean'),
    ('syntactic', 'cka', False, 'T0', None, None, 'cka'),
    ('syntactic', 'cka', False, 'T0', None, 5, 'cap5-cka'),
    ('syntactic', 'cka', True, 'T0', None, None, 'cka-mean'),
    ('syntactic', 'cka', True, 'T0', None, 5, 'cap5-cka-mean'),
]
MI_TAGS = [
    ('phone', 0, None, 'minibatch', 'iter0'),
    ('phone', 0, None, 'full', 'iter0-full'),
    ('phone', 0, None, 'faiss', 'iter0-faiss'),
    ('phone', 0, 40, 'minibatch', 'iter0-k40'),
    ('phone', 0, 40, 'full', 'iter0-k40-full'),
    ('phone', 0, 40, 'faiss', 'iter0-k40-faiss'),
    ('phone', 0, 500, 'minibatch', 'iter0'),
    ('phone', 0, 500, 'full', 'iter0-full'),
    ('phone', 0, 500, 'faiss', 'iter0-faiss'),
    ('phone', 0, 5000, 'minibatch', 'iter0-k5000'),
    ('phone', 0, 5000, 'full', 'iter0-k5000-full'),
    ('phone', 0, 5000, 'faiss', 'iter0-k5000-faiss'),
    ('phone', 3, None, 'minibatch', 'iter3'),
    ('phone', 3, None, 'full', 'iter3-full'),
    ('phone', 3, None, 'faiss', 'iter3-faiss'),
    ('phone', 3, 40, 'minibatch', 'iter3-k40'),
    ('phone', 3, 40, 'full', 'iter3-k40-full'),
    ('phone', 3, 40, 'faiss', 'iter3-k40-faiss'),
    ('phone', 3, 500, 'minibatch', 'iter3'),
    ('phone', 3, 500, 'full', 'iter3-full'),
    ('phone', 3, 500, 'faiss', 'iter3-faiss'),
    ('phone', 3, 5000, 'minibatch', 'iter3-k5000'),
    ('phone', 3, 5000, 'full', 'iter3-k5000-full'),
    ('phone', 3, 5000, 'faiss', 'iter3-k5000-faiss'),
    ('word', 0, None, 'minibatch', 'iter0'),
    ('word', 0, None, 'full', 'iter0-full'),
    ('word', 0, None, 'faiss', 'iter0-faiss'),
    ('word', 0, 40, 'minibatch', 'iter0-k40'),
    ('word', 0, 40, 'full', 'iter0-k40-full'),
    ('word', 0, 40, 'faiss', 'iter0-k40-faiss'),
    ('word', 0, 500, 'minibatch', 'iter0-k500'),
    ('word', 0, 500, 'full', 'iter0-k500-full'),
    ('word', 0, 500, 'faiss', 'iter0-k500-faiss'),
    ('word', 0, 5000, 'minibatch', 'iter0'),
    ('word', 0, 5000, 'full', 'iter0-full'),
    ('word', 0, 5000, 'faiss', 'iter0-faiss'),
    ('word', 3, None, 'minibatch', 'iter3'),
    ('word', 3, None, 'full', 'iter3-full'),
    ('word', 3, None, 'faiss', 'iter3-faiss'),
    ('word', 3, 40, 'minibatch', 'iter3-k40'),
    ('word', 3, 40, 'full', 'iter3-k40-full'),
    ('word', 3, 40, 'faiss', 'iter3-k40-faiss'),
    ('word', 3, 500, 'minibatch', 'iter3-k500'),
    ('word', 3, 500, 'full', 'iter3-k500-full'),
    ('word', 3, 500, 'faiss', 'iter3-k500-faiss'),
    ('word', 3, 5000, 'minibatch', 'iter3'),
    ('word', 3, 5000, 'full', 'iter3-full'),
    ('word', 3, 5000, 'faiss', 'iter3-faiss'),
]
AWD_TAGS = [
    ('cosine', False, 0, 0.0, None, 0, None),
    ('cosine', False, 4, 0.0, 5, 0, 'c4-k5-seed0'),
    ('cosine', False, 0, 0.25, None, 3, 's0.25'),
    ('cosine', False, 3, 0.5, 10, 7, 'c3-s0.5-k10-seed7'),
    ('cosine', False, 0, 0, 2, 1, 'k2-seed1'),
    ('cosine', True, 0, 0.0, None, 0, 'mvn'),
    ('cosine', True, 4, 0.0, 5, 0, 'mvn-c4-k5-seed0'),
    ('cosine', True, 0, 0.25, None, 3, 'mvn-s0.25'),
    ('cosine', True, 3, 0.5, 10, 7, 'mvn-c3-s0.5-k10-seed7'),
    ('cosine', True, 0, 0, 2, 1, 'mvn-k2-seed1'),
    ('euclidean', False, 0, 0.0, None, 0, 'euclidean'),
    ('euclidean', False, 4, 0.0, 5, 0, 'euclidean-c4-k5-seed0'),
    ('euclidean', False, 0, 0.25, None, 3, 'euclidean-s0.25'),
    ('euclidean', False, 3, 0.5, 10, 7, 'euclidean-c3-s0.5-k10-seed7'),
    ('euclidean', False, 0, 0, 2, 1, 'euclidean-k2-seed1'),
    ('euclidean', True, 0, 0.0, None, 0, 'euclidean-mvn'),
    ('euclidean', True, 4, 0.0, 5, 0, 'euclidean-mvn-c4-k5-seed0'),
    ('euclidean', True, 0, 0.25, None, 3, 'euclidean-mvn-s0.25'),
    ('euclidean', True, 3, 0.5, 10, 7, 'euclidean-mvn-c3-s0.5-k10-seed7'),
    ('euclidean', True, 0, 0, 2, 1, 'euclidean-mvn-k2-seed1'),
]
STS_TAGS = [
    (True, False, None),
    (True, True, 'xspk'),
    (False, False, 'all'),
    (False, True, 'all-xspk'),
]
SEGMENT_TAGS = [
    ('reference', 0.02, None),
    ('reference', 0.03, 'tol0.03'),
    ('reference', 0.0, 'tol0'),
    ('reference', 0.025, 'tol0.025'),
    ('one-to-one', 0.02, 'one-to-one'),
    ('one-to-one', 0.03, 'one-to-one-tol0.03'),
    ('one-to-one', 0.0, 'one-to-one-tol0'),
    ('one-to-one', 0.025, 'one-to-one-tol0.025'),
]


def _spec(analysis: str, options, extra=None) -> ResultSpec:
    return ResultSpec.build(analysis, "m", "dev-clean", "1", {}, options, extra)


def _cca(experiment, metric, mean, base, other, cap) -> CCAOptions:
    return CCAOptions.of(experiment, metric=metric, mean_score=mean, seed=0, null_tol=None,
                         svd_keep=0.99, other_model=other, base_layer=base, instance_cap=cap)


@pytest.mark.parametrize("case", CCA_TAGS, ids=str)
def test_cca_tags_are_todays(case):
    *args, tag = case
    assert _spec(f"cca-{args[0]}", _cca(*args)).tag == tag


@pytest.mark.parametrize("case", MI_TAGS, ids=str)
def test_mi_tags_are_todays(case):
    span, iteration, clusters, kmeans, tag = case
    options = MIOptions.of(span, clusters=clusters, kmeans=kmeans, seed=0, iteration=iteration,
                           train_split="train-clean", eval_split="dev-clean")
    assert _spec(f"mi-{span}", options).tag == tag


@pytest.mark.parametrize("case", AWD_TAGS, ids=str)
def test_awd_tags_are_todays(case):
    *args, tag = case
    assert _spec("awd", AWDOptions.of(*args)).tag == tag


@pytest.mark.parametrize("case", STS_TAGS, ids=str)
def test_sts_tags_are_todays(case):
    mean, exclude, tag = case
    assert _spec("sts", STSOptions(mean=mean, exclude_same_speaker=exclude)).tag == tag


@pytest.mark.parametrize("case", SEGMENT_TAGS, ids=str)
def test_segment_tags_are_todays(case):
    matching, tolerance, tag = case
    options = SegmentOptions(prominences=[0.1], metrics=["cosine"], windows=[1],
                             matching=matching, tolerance=tolerance)
    assert _spec("segment", options).tag == tag
    # `segment apply --from-tune` looks the tuned result up by the same tag
    assert result_tag("segment", {"matching": matching, "tolerance": tolerance}) == tag


def test_wordsim_has_no_variants():
    assert _spec("wordsim", WordsimOptions(benchmarks={"simlex999": "ab"})).tag is None


def test_tag_defaults_match_the_numerics_defaults():
    from lwa_cli.analysis.mi import DEFAULTS
    from lwa_cli.analysis.segmentation import TOLERANCE

    for span, defaults in DEFAULTS.items():
        (part,) = [p for p in get_analysis(f"mi-{span}").tag if p.option == "n_clusters"]
        assert part.default == defaults.n_clusters
    (part,) = [p for p in get_analysis("segment").tag if p.option == "tolerance"]
    assert part.default == TOLERANCE


def test_tag_parts_skip_absent_and_default_options_and_format_others():
    part = TagPart("max_per_word", "k{}-seed{seed}", default=None)
    assert part.bit({}) is None
    assert part.bit({"max_per_word": None, "seed": 3}) is None
    assert part.bit({"max_per_word": 5, "seed": 3}) == "k5-seed3"
    assert TagPart("iter", "iter{}").bit({"iter": 0}) == "iter0"  # no default: always
    assert TagPart("mvn", "mvn", default=False).bit({"mvn": True}) == "mvn"
    assert result_tag("awd", {"distance": "cosine", "mvn": False}) is None
    with pytest.raises(KeyError, match="unknown analysis 'nonesuch'; one of cca-mel"):
        result_tag("nonesuch", {})


# What the steps stored before the options dataclasses: options and record fields of each
# analysis, as the hand-written dicts built them (provenance equality is the reuse rule, so
# these must not change).
def test_cca_options_and_fields_are_the_stored_ones():
    spec = _spec("cca-intra", _cca("intra", "svcca", True, "T3", None, None))
    assert spec.options == {"metric": "svcca", "mean_score": True, "seed": 0,
                            "null_tol": None, "svd_keep": 0.99, "base_layer": "T3"}
    assert spec.fields == {"metric": "svcca", "mean_score": True, "seed": 0,
                           "null_tol": None, "base_layer": "T3"}
    spec = _spec("cca-inter", _cca("inter", "pwcca", False, "T0", "hub", None))
    assert spec.options == {"metric": "pwcca", "mean_score": False, "seed": 0,
                            "null_tol": None, "other_model": "hub"}
    assert spec.fields == spec.options
    spec = _spec("cca-semantic", _cca("semantic", "pwcca", False, "T0", None, None),
                 {"targets": "semantic", "segments_dropped": 2})
    assert spec.options == {"metric": "pwcca", "mean_score": False, "seed": 0,
                            "null_tol": None, "instance_cap": None}
    assert spec.fields == {"metric": "pwcca", "mean_score": False, "seed": 0,
                           "null_tol": None, "targets": "semantic", "segments_dropped": 2}


def test_mi_awd_sts_segment_wordsim_options_and_fields_are_the_stored_ones():
    mi = _spec("mi-phone", MIOptions.of("phone", clusters=40, kmeans="faiss", seed=1,
                                        iteration=2, train_split="train-clean",
                                        eval_split=None))
    assert mi.options == {"n_clusters": 40, "kmeans": "faiss", "seed": 1, "iter": 2,
                          "train_split": "train-clean", "eval_split": None,
                          "batch_size": 1500, "max_iter": 500, "fit_dtype": "float64",
                          "niter": 20}
    assert mi.fields == {"iter": 2, "train_split": "train-clean", "eval_split": None,
                         "kmeans": "faiss", "seed": 1}
    awd = AWDOptions.of("cosine", True, 4, 0, None, 7)
    assert options_of(awd) == {"distance": "cosine", "mvn": True, "min_chars": 4,
                               "min_seconds": 0.0, "max_per_word": None, "seed": None}
    assert record_fields_of(awd) == {"distance": "cosine", "mvn": True}
    assert awd.filters == {"min_chars": 4, "min_seconds": 0.0, "max_per_word": None,
                           "seed": None}
    sts = STSOptions(mean=False, exclude_same_speaker=True)
    assert options_of(sts) == {"mean": False, "exclude_same_speaker": True}
    assert record_fields_of(sts) == {"exclude_same_speaker": True}
    seg = SegmentOptions(prominences=[0.1], metrics=["cosine"], windows=[2],
                         matching="one-to-one", tolerance=0.03)
    assert options_of(seg) == {"prominences": [0.1], "metrics": ["cosine"], "windows": [2],
                               "matching": "one-to-one", "tolerance": 0.03,
                               "frame_period": 0.02}
    assert record_fields_of(seg) == {"matching": "one-to-one"}
    wordsim = WordsimOptions(benchmarks={"a": "1"})
    assert options_of(wordsim) == {"benchmarks": {"a": "1"}}
    assert record_fields_of(wordsim) == {}


def test_options_dataclasses_are_frozen_and_require_their_record_fields():
    options = STSOptions(mean=True, exclude_same_speaker=False)
    with pytest.raises(FrozenInstanceError):
        options.mean = False
    with pytest.raises(TypeError, match="exclude_same_speaker"):
        STSOptions(mean=True)
    with pytest.raises(TypeError, match="dataclass instance"):
        options_of({"mean": True})
    assert UNSET not in options_of(_cca("mel", "pwcca", False, "T0", None, None)).values()


def test_every_analysis_the_pipeline_stores_is_registered():
    """Every pipeline module that stores results is a registered step, and back."""
    from lwa_cli.analysis.mi import DEFAULTS
    from lwa_cli.pipeline.cca import EXPERIMENTS

    pipeline = Path(lwa_cli.pipeline.__file__).parent

    def module(path: Path) -> str:
        parts = path.relative_to(pipeline).with_suffix("").parts
        return ".".join(("lwa_cli", "pipeline") + parts[: -1 if parts[-1] == "__init__" else None])

    storing = {module(p) for p in pipeline.rglob("*.py")
               if "score_layers(" in p.read_text() and p.stem != "results"}
    for path in pipeline.rglob("*.py"):  # specs come from options dataclasses only
        assert "ResultSpec(" not in path.read_text(), path.name
    steps = {entry.step.partition(":")[0] for entry in ANALYSES.values()}
    assert storing == steps
    assert {f"cca-{e}" for e in EXPERIMENTS} | {f"mi-{s}" for s in DEFAULTS} <= set(ANALYSES)
    for name, entry in ANALYSES.items():
        step = step_function(name)
        assert callable(step) and step.__name__.startswith("run_")
        assert entry.command.startswith("lwa ") and entry.title and entry.short


def test_choices_titles_and_messages_come_from_the_registry():
    from lwa_cli.cli.results import results
    from lwa_cli.report.analyses import info, score_label
    from lwa_cli.report.collect import PRODUCERS

    assert choices.ANALYSIS_NAMES == tuple(ANALYSES)
    assert choices.CCA_EXPERIMENTS == ("mel", "intra", "inter", "phone", "word", "agwe",
                                       "glove", "semantic", "syntactic")
    assert choices.MI_SPANS == ("phone", "word")
    for name, entry in ANALYSES.items():
        assert info(name) is entry
    assert info("cca-semantic").title == "CCA with semantic word attributes"
    assert score_label("cca-mel", "svcca") == "SVCCA similarity"
    assert info("not-registered").title == "not-registered"
    assert info("not-registered").min_span is None
    assert PRODUCERS == producers() == ("`lwa cca`, `lwa similarity`, `lwa mi`, `lwa wordsim`, "
                                        "`lwa segment tune`, `lwa awd`, `lwa sts`, `lwa abx` or "
                                        "`lwa probe`")
    option = inspect.signature(results).parameters["analysis"].default
    assert option.autocompletion("cca-s") == ["cca-semantic", "cca-syntactic"]
    assert option.autocompletion("mi") == ["mi-phone", "mi-word"]


def test_status_lists_results_in_registry_order():
    from lwa_cli.cli.status import _in_registry_order

    rows = [{"analysis": "sts"}, {"analysis": "zz-other"}, {"analysis": "cca-mel"},
            {"analysis": "awd"}]
    assert [r["analysis"] for r in _in_registry_order(rows)] == ["cca-mel", "awd", "sts",
                                                                   "zz-other"]


def test_registry_and_choices_import_no_heavy_modules():
    code = ("import sys, lwa_cli.analyses, lwa_cli.choices; "
            "print(sorted(m for m in ('numpy', 'torch', 'sklearn', 'gensim', 'h5py') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


OLD_VARIANT_FIELDS = (
    "other_model", "metric", "base_layer", "mean_score", "train_split", "n_clusters", "kmeans",
    "matching", "tolerance_s",
    "distance", "mvn", "token_filter", "mode", "exclude_same_speaker", "instance_cap",
    "speakers", "context", "pooling", "other_layer", "span",
)  # report/table.py before the registry (with issue 20's AWD/ABX and issue 22's similarity)
ADDED_VARIANT_FIELDS = ("probe", "with_silence")  # of analyses added since (probe)


def test_variant_columns_come_from_the_registry_and_keep_their_strings():
    from lwa_cli.report.table import VARIANT_FIELDS, variant_of

    known = OLD_VARIANT_FIELDS + ADDED_VARIANT_FIELDS
    assert set(VARIANT_FIELDS) == set(known)
    for entry in ANALYSES.values():  # a record of one analysis: the same variant string
        record = {field: f"v{i}" for i, field in enumerate(entry.variant_fields)}
        old = "; ".join(f"{k}={record[k]}" for k in known if k in record)
        assert variant_of(record) == old, entry.name
    assert variant_of({"metric": "cka", "other_model": "hub", "mean_score": True}) == \
        "other_model=hub; metric=cka; mean_score=true"


def test_results_analysis_filter_suggests_a_registered_name():
    from lwa_cli.errors import LwaUsageError
    from lwa_cli.report.collect import select

    records = [{"analysis": "cca-mel"}, {"analysis": "sts"}]
    assert select(records, "analysis", ["sts"], "--analysis", known=tuple(ANALYSES)) == \
        [{"analysis": "sts"}]
    with pytest.raises(LwaUsageError) as err:
        select(records, "analysis", ["cca-phnoe"], "--analysis", known=tuple(ANALYSES))
    assert str(err.value) == ("--analysis cca-phnoe: no stored results; stored: cca-mel, sts "
                              "(did you mean cca-phone?)")
    with pytest.raises(LwaUsageError) as err:  # registered, just not stored: no hint
        select(records, "analysis", ["awd"], "--analysis", known=tuple(ANALYSES))
    assert str(err.value) == "--analysis awd: no stored results; stored: cca-mel, sts"
