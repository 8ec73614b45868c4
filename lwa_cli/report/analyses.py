"""What the report knows about each analysis and model: display names, metrics, axis labels.

`ANALYSES` is the one table an analysis adds an entry to (its title, the metric its ``score``
is, and any further per-result numbers worth their own axis, e.g. wordsim's macro average).
An analysis without an entry is still reported and plotted, under its own name.
`display_name` turns registry names into the names papers print; a names file overrides them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lwa_cli.errors import LwaUsageError
from lwa_cli.models.registry import display_names


@dataclass(frozen=True)
class Measure:
    """One number per result that gets its own axis: a record field and what it means."""

    field: str
    label: str  # axis label, e.g. "Spearman ρ (macro average)"


@dataclass(frozen=True)
class AnalysisInfo:
    """How an analysis is shown.

    Attributes
    ----------
    title : figure title.
    short : a few words for a legend or a panel title of the profile figure.
    score : what the record's ``score`` is (the y label of its main axis).
    extra : further numeric record fields, each on its own axis (a field a record lacks is
        simply not plotted).
    on_score : further numeric record fields drawn on the score's own axis, dotted (the
        baselines of the score, e.g. a probe's majority-class accuracy).
    per_benchmark : prefix of flattened per-benchmark fields (``rho_<benchmark>``), each on
        its own axis in a figure of its own; empty for none.
    min_span : smallest y range an automatic axis shows (so a spread of 0.004 is not blown
        up to fill the panel); None for no minimum (scores of unknown scale).
    """

    title: str
    short: str
    score: str
    extra: tuple[Measure, ...] = ()
    on_score: tuple[Measure, ...] = ()
    per_benchmark: str = ""
    min_span: float | None = 0.1


_CCA_Y = "{metric} similarity"  # the metric (pwcca, svcca, cka) is filled in per variant

ANALYSES: dict[str, AnalysisInfo] = {
    "cca-mel": AnalysisInfo("CCA with log-mel filterbank features", "CCA-mel", _CCA_Y),
    "cca-intra": AnalysisInfo("CCA with the model's own base layer", "CCA-intra", _CCA_Y),
    "cca-inter": AnalysisInfo("CCA between two models, same layer", "CCA-inter", _CCA_Y),
    "cca-phone": AnalysisInfo("CCA with one-hot phone labels", "CCA-phone", _CCA_Y),
    "cca-word": AnalysisInfo("CCA with one-hot word labels", "CCA-word", _CCA_Y),
    "cca-agwe": AnalysisInfo("CCA with acoustically grounded word embeddings", "CCA-AGWE",
                             _CCA_Y),
    "cca-glove": AnalysisInfo("CCA with GloVe word embeddings", "CCA-GloVe", _CCA_Y),
    "cca-semantic": AnalysisInfo("CCA with semantic word attributes", "CCA-semantic", _CCA_Y),
    "cca-syntactic": AnalysisInfo("CCA with syntactic word attributes", "CCA-syntactic",
                                  _CCA_Y),
    "mi-phone": AnalysisInfo("Mutual information with phone labels", "MI-phone",
                             "MI(cluster; phone) / H(phone)"),
    "mi-word": AnalysisInfo("Mutual information with word labels", "MI-word",
                            "MI(cluster; word) / H(word)"),
    "wordsim": AnalysisInfo("Word similarity of static layer embeddings", "word sim.",
                            "Spearman ρ (micro average)",
                            extra=(Measure("macro", "Spearman ρ (macro average)"),),
                            per_benchmark="rho_"),
    "segment": AnalysisInfo("Unsupervised word segmentation (best boundary F of the grid)",
                            "segmentation", "word boundary F (best configuration)",
                            extra=(Measure("r_value", "R-value (best configuration)"),)),
    "awd": AnalysisInfo("Acoustic word discrimination (same-different AP)", "AWD",
                        "average precision"),
    "sts": AnalysisInfo("Spoken STS (Spearman ρ of utterance cosines with the pair scores)",
                        "STS", "Spearman ρ"),
    **{f"probe-{task}": AnalysisInfo(
        f"{what} probe (classifier accuracy on held-out data)", f"probe-{task}",
        "probe accuracy", extra=(
            Measure("mdl_bits", "online codelength (MDL, bits)"),
            Measure("compression", "compression (uniform / online codelength)"),
            *((Measure("selectivity", "selectivity (accuracy − control)"),)
              if task == "word" else ())),
        on_score=(Measure("majority_accuracy", "majority class"),
                  *((Measure("control_accuracy", "control task"),) if task == "word" else ())))
      for task, what in (("phone", "Frame-level phone"), ("word", "Word identity"),
                         ("speaker", "Speaker identity"))},
}
"""Display facts per analysis; add an entry with each new analysis."""


def info(analysis: str) -> AnalysisInfo:
    """The entry of `analysis`, or a plain one with its `plots.TITLES` title or its name."""
    from lwa_cli.report.plots import TITLES  # titles other analyses add there

    return ANALYSES.get(analysis) or AnalysisInfo(TITLES.get(analysis, analysis), analysis,
                                                  "score", min_span=None)


def score_label(analysis: str, metric: str | None = None) -> str:
    """The y label of an analysis's score (CCA labels name their metric)."""
    label = info(analysis).score
    return label.replace("{metric}", metric.upper() if metric else "CCA")


MODEL_NAMES: dict[str, str] = display_names()
"""Names papers print, per registry name (the entries' ``display_name``) and demo model;
``<name>_random`` becomes "<name>, random init"."""

RANDOM_SUFFIX = "_random"


def trained_twin(model: str) -> str | None:
    """``hubert_base_random`` → ``hubert_base``; None for a model that is not a random twin."""
    if model.endswith(RANDOM_SUFFIX) and len(model) > len(RANDOM_SUFFIX):
        return model[: -len(RANDOM_SUFFIX)]
    return None


def display_name(model: str, names: dict[str, str] | None = None) -> str:
    """The printed name of a model: the names file's, else the built-in one, else the key."""
    names = names or {}
    if model in names:
        return names[model]
    twin = trained_twin(model)
    if twin is not None:
        return f"{display_name(twin, names)}, random init"
    return MODEL_NAMES.get(model, model)


_NAME_LINE = re.compile(r"^\s*([^=#\s][^=]*?)\s*=\s*(.*?)\s*$")


def load_names(path: Path | str) -> dict[str, str]:
    """Read a names file: ``model = Display name`` per line; ``#`` starts a comment.

    Raises
    ------
    LwaUsageError : the file cannot be read, or a line (named ``file:line``) is not
        ``key = name``.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LwaUsageError(f"--names {path}: cannot read it ({exc})") from exc
    out: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        match = _NAME_LINE.match(text)
        if match is None or not match.group(2):
            raise LwaUsageError(f"{path}:{number}: expected `model = Display name`, "
                                f"got {line.strip()!r}")
        out[match.group(1)] = match.group(2)
    return out
