"""The analysis registry: one entry per analysis whose results a workspace stores.

Everything that names analyses reads `ANALYSES`: the choices commands accept
(`lwa_cli.choices`), the report's titles and axis labels (`lwa_cli.report.analyses`), result
collection and its error messages (`lwa_cli.report.collect`), `lwa results --analysis`,
`lwa status` and shell completion. Kept free of heavy imports (no numpy, torch, scikit-learn
or gensim): shell completion imports it on every tab.

Adding an analysis
------------------
Add one `Analysis` to `_ENTRIES` below (its order is the report's, `lwa status`'s and the
messages' order)::

    Analysis(
        name="abx",                               # the ``analysis`` of its stored records
        step="lwa_cli.pipeline.abx:run_abx",      # module:function that stores its results
        command="lwa abx",                        # the command that runs it (for messages)
        title="ABX phone discrimination",         # figure title
        short="ABX",                              # legend / panel title
        score="ABX error rate",                   # what its ``score`` is (y label)
        higher_is_better=False,
        tag=(TagPart("distance", "{}", default="cosine"),),
        variant_fields=("distance",),             # record fields shown as its variant
    )

`tag` derives the file tag of a result from the result's ``options`` (see `result_tag`): each
`TagPart` adds one bit when its option is present and differs from `default`; the bits are
joined with ``-`` and no bits means no tag (the default variant). Two results whose options
differ in a tag option therefore never share a file. The step builds its ``options`` from an
options dataclass (`lwa_cli.pipeline.results.ResultSpec.build`), so the tag, the provenance
and the stored fields all come from the same values::

    @dataclass(frozen=True, kw_only=True)
    class ABXOptions:
        distance: str = record_field()            # an option also stored in each record
        seed: int                                 # an option only (provenance)

    spec = ResultSpec.build("abx", model, split, sample, inputs, ABXOptions(...),
                            extra={"n_triplets": n})  # record fields that are not options
    return score_layers(ws, spec, layers, score, force=force, reporter=reporter)

A test (tests/test_analyses_registry.py) checks that every pipeline module calling
`score_layers` is some entry's `step`, and back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_ALWAYS = object()  # a TagPart default no value equals: the bit is always written


@dataclass(frozen=True)
class Measure:
    """One number per result that gets its own axis: a record field and what it means."""

    field: str
    label: str  # axis label, e.g. "Spearman ρ (macro average)"


@dataclass(frozen=True)
class TagPart:
    """One bit of a result's file tag.

    Attributes
    ----------
    option : the ``options`` key it reads; an absent key adds no bit.
    format : `str.format` pattern; ``{}`` is the option's value, ``{name}`` any other option
        (e.g. ``"k{}-seed{seed}"``); a pattern without fields is a flag (``"mean"``).
    default : the value that adds no bit (left out: the bit is always written).
    """

    option: str
    format: str = "{}"
    default: Any = _ALWAYS

    def bit(self, options: Mapping[str, Any]) -> str | None:
        if self.option not in options:
            return None
        value = options[self.option]
        if self.default is not _ALWAYS and value == self.default:
            return None
        return self.format.format(value, **options)


@dataclass(frozen=True)
class Analysis:
    """One analysis: identity, producer, display settings and what tells its variants apart.

    Attributes
    ----------
    name : the ``analysis`` field of its records and its results folder.
    step : ``module:function`` of the pipeline step that stores its results (a string, so
        this registry imports no pipeline code; `step_function` resolves it).
    command : the CLI command that runs the step, for messages ("run `lwa cca` first").
    title : figure title.
    short : a few words for a legend or a panel title of the profile figure.
    score : what the record's ``score`` is (the y label of its main axis; ``{metric}`` is
        filled in per variant for the CCA metrics).
    extra : further numeric record fields, each on its own axis (a field a record lacks is
        simply not plotted).
    on_score : further numeric record fields drawn on the score's own axis, each with its own
        dash (the baselines of the score, e.g. a probe's majority-class accuracy).
    per_benchmark : prefix of flattened per-benchmark fields (``rho_<benchmark>``), each on
        its own axis in a figure of its own; empty for none.
    min_span : smallest y range an automatic axis shows (so a spread of 0.004 is not blown
        up to fill the panel); None for no minimum (scores of unknown scale).
    higher_is_better : whether a larger ``score`` means more of the property.
    tag : the options that name a result variant's file (see `result_tag`).
    variant_fields : record fields that make a different experiment, never averaged together
        in the report (e.g. the CCA metric); the report's variant string lists them.
    """

    name: str
    step: str
    command: str
    title: str
    short: str
    score: str
    extra: tuple[Measure, ...] = ()
    on_score: tuple[Measure, ...] = ()
    per_benchmark: str = ""
    min_span: float | None = 0.1
    higher_is_better: bool = True
    tag: tuple[TagPart, ...] = ()
    variant_fields: tuple[str, ...] = ()


_CCA_Y = "{metric} similarity"  # the metric (pwcca, svcca, cka) is filled in per variant
_CCA_TAG = (TagPart("instance_cap", "cap{}", default=None),  # semantic/syntactic only
            TagPart("other_model", "vs-{}"),  # inter only
            TagPart("base_layer", "base-{}", default="T0"),  # intra only
            TagPart("metric", default="pwcca"),
            TagPart("mean_score", "mean", default=False))
_CCA_STEP = "lwa_cli.pipeline.cca:run_cca"
_CCA_VARIANT = ("other_model", "metric", "base_layer", "mean_score", "instance_cap")


def _cca(experiment: str, title: str, short: str) -> Analysis:
    return Analysis(f"cca-{experiment}", _CCA_STEP, "lwa cca", title, short, _CCA_Y,
                    tag=_CCA_TAG, variant_fields=_CCA_VARIANT)


def _mi(span: str, default_clusters: int) -> Analysis:
    # default_clusters: lwa_cli.analysis.mi.DEFAULTS[span].n_clusters (a test checks it)
    return Analysis(f"mi-{span}", "lwa_cli.pipeline.mi:run_mi", "lwa mi",
                    f"Mutual information with {span} labels", f"MI-{span}",
                    f"MI(cluster; {span}) / H({span})",
                    tag=(TagPart("iter", "iter{}"),
                         TagPart("n_clusters", "k{}", default=default_clusters),
                         TagPart("kmeans", default="minibatch")),
                    variant_fields=("train_split", "n_clusters", "kmeans"))


def _probe(task: str, what: str) -> Analysis:
    word = task == "word"  # only the word probe has a control task (and so a selectivity)
    return Analysis(f"probe-{task}", "lwa_cli.pipeline.probe:run_probe", "lwa probe",
                    f"{what} probe (classifier accuracy on held-out data)", f"probe-{task}",
                    "probe accuracy",
                    extra=(Measure("mdl_bits", "online codelength (MDL, bits)"),
                           Measure("compression", "compression (uniform / online codelength)"),
                           *([Measure("selectivity", "selectivity (accuracy − control)")]
                             if word else [])),
                    on_score=(Measure("majority_accuracy", "majority class"),
                              *([Measure("control_accuracy", "control task")] if word else [])),
                    tag=(TagPart("probe", default="linear"),
                         TagPart("with_silence", "sil", default=False)),
                    variant_fields=("probe", "with_silence"))


_ENTRIES = (
    _cca("mel", "CCA with log-mel filterbank features", "CCA-mel"),
    _cca("intra", "CCA with the model's own base layer", "CCA-intra"),
    _cca("inter", "CCA between two models, same layer", "CCA-inter"),
    _cca("phone", "CCA with one-hot phone labels", "CCA-phone"),
    _cca("word", "CCA with one-hot word labels", "CCA-word"),
    _cca("agwe", "CCA with acoustically grounded word embeddings", "CCA-AGWE"),
    _cca("glove", "CCA with GloVe word embeddings", "CCA-GloVe"),
    _cca("semantic", "CCA with semantic word attributes", "CCA-semantic"),
    _cca("syntactic", "CCA with syntactic word attributes", "CCA-syntactic"),
    Analysis("similarity", "lwa_cli.pipeline.similarity:run_similarity", "lwa similarity",
             "Layer × layer similarity of two models (one heatmap per model pair and measure)",
             "similarity", "{metric}", min_span=None,
             # the record's layer is model A's; the tag names B, its layer and the measure
             tag=(TagPart("other_model", "vs-{}-{other_layer}-{measure}"),
                  TagPart("span", default="frame")),
             variant_fields=("other_model", "metric", "other_layer", "span")),
    _mi("phone", 500),
    _mi("word", 5000),
    Analysis("wordsim", "lwa_cli.pipeline.wordsim:run_wordsim", "lwa wordsim",
             "Word similarity of static layer embeddings", "word sim.",
             "Spearman ρ (micro average)",
             extra=(Measure("macro", "Spearman ρ (macro average)"),), per_benchmark="rho_"),
    Analysis("segment", "lwa_cli.pipeline.segment:run_segment_tune", "lwa segment tune",
             "Unsupervised word segmentation (best boundary F of the grid)", "segmentation",
             "word boundary F (best configuration)",
             extra=(Measure("r_value", "R-value (best configuration)"),),
             # tolerance default: lwa_cli.analysis.segmentation.TOLERANCE (a test checks it)
             tag=(TagPart("matching", default="reference"),
                  TagPart("tolerance", "tol{:g}", default=0.02)),
             variant_fields=("matching", "tolerance_s")),
    Analysis("awd", "lwa_cli.pipeline.awd:run_awd", "lwa awd",
             "Acoustic word discrimination (same-different AP)", "AWD", "average precision",
             tag=(TagPart("distance", default="cosine"),
                  TagPart("speaker_pairs", "spk-{}", default="all"),
                  TagPart("mvn", "mvn", default=False),
                  TagPart("min_chars", "c{}", default=0),
                  TagPart("min_seconds", "s{:g}", default=0),
                  TagPart("max_per_word", "k{}-seed{seed}", default=None)),
             variant_fields=("distance", "mvn", "token_filter", "speakers")),
    Analysis("sts", "lwa_cli.pipeline.sts:run_sts", "lwa sts",
             "Spoken STS (Spearman ρ of utterance cosines with the pair scores)", "STS",
             "Spearman ρ",
             tag=(TagPart("mean", "all", default=True),
                  TagPart("exclude_same_speaker", "xspk", default=False)),
             variant_fields=("mode", "exclude_same_speaker")),
    Analysis("abx", "lwa_cli.pipeline.abx:run_abx", "lwa abx",
             "Phone ABX error rate (ZeroSpeech protocol; lower is better)", "ABX",
             "ABX error rate (%, lower is better)", min_span=None, higher_is_better=False,
             # defaults: the options of lwa_cli.pipeline.abx.run_abx
             tag=(TagPart("speaker", "{}-{context}"),
                  TagPart("distance", default="angular"),
                  TagPart("pooling", "pool-{}", default="none"),
                  TagPart("max_size_group", "g{}", default=10),
                  TagPart("max_x_across", "x{}", default=5),  # across only
                  TagPart("seed", "seed{}", default=0),
                  TagPart("items", "items-{}", default=None)),
             variant_fields=("speakers", "context", "distance", "pooling")),
    _probe("phone", "Frame-level phone"),
    _probe("word", "Word identity"),
    _probe("speaker", "Speaker identity"),
)

ANALYSES: dict[str, Analysis] = {a.name: a for a in _ENTRIES}
"""Every analysis a workspace stores results of, by name, in report order."""


def get_analysis(name: str) -> Analysis:
    """The entry of `name`; KeyError (naming the known ones) for an unknown analysis."""
    try:
        return ANALYSES[name]
    except KeyError:
        raise KeyError(f"unknown analysis {name!r}; one of {', '.join(ANALYSES)}") from None


def result_tag(analysis: str, options: Mapping[str, Any]) -> str | None:
    """File tag of a result of `analysis` with these ``options``: its non-default variant bits.

    None for the default variant. Only the options the entry's `tag` names count, so adding
    an option that does not tell variants apart never renames existing files.
    """
    bits = [bit for part in get_analysis(analysis).tag if (bit := part.bit(options))]
    return "-".join(bits) or None


def variants(family: str) -> tuple[str, ...]:
    """Suffixes of the analyses named ``<family>-<suffix>``: ``variants("cca")`` → mel, …"""
    prefix = f"{family}-"
    return tuple(name[len(prefix):] for name in ANALYSES if name.startswith(prefix))


def producers() -> str:
    """The commands that store results, for messages ("`lwa cca`, … or `lwa sts`")."""
    commands = [f"`{c}`" for c in dict.fromkeys(a.command for a in ANALYSES.values())]
    return ", ".join(commands[:-1]) + f" or {commands[-1]}" if len(commands) > 1 \
        else commands[0]


def variant_fields() -> tuple[str, ...]:
    """Every analysis's variant fields, in registry order (the report's variant columns)."""
    return tuple(dict.fromkeys(f for a in ANALYSES.values() for f in a.variant_fields))


def step_function(name: str):
    """The pipeline function that stores results of analysis `name` (imported now)."""
    import importlib

    module, _, function = get_analysis(name).step.partition(":")
    return getattr(importlib.import_module(module), function)
