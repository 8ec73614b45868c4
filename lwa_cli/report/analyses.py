"""What the report knows about each analysis and model: display names, metrics, axis labels.

The display facts of each analysis (title, the metric its ``score`` is, further per-result
numbers worth their own axis, e.g. wordsim's macro average) are its entry in the analysis
registry, `lwa_cli.analyses.ANALYSES`; an analysis without one (records written by another
version) is still reported and plotted, under its own name.
`display_name` turns registry names into the names papers print; a names file overrides them.
"""

from __future__ import annotations

import re
from pathlib import Path

from lwa_cli.analyses import ANALYSES, Analysis
from lwa_cli.errors import LwaUsageError
from lwa_cli.models.registry import display_names


def info(analysis: str) -> Analysis:
    """The registry entry of `analysis`, or a plain one under its name for an unknown one."""
    return ANALYSES.get(analysis) or Analysis(analysis, "", "", analysis, analysis, "score",
                                              min_span=None)


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
