"""How report figures look: colour-blind-safe colours, markers, line styles and print widths.

Colours come from two colour-blind-safe palettes: Okabe & Ito's (2008) for models and Paul
Tol's "muted" scheme for the analyses of the profile figure. A model's colour is derived from
its name alone (a hash), never from which other models a report holds, so it is the same in
every figure and every report; ``--colors model=#hex`` pins it. A random-init twin takes its
trained model's colour and is dashed. Variants of one analysis (e.g. AWD with and without a
token filter) differ by marker and line style as well as by label.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from lwa_cli.errors import LwaUsageError

OKABE_ITO: tuple[str, ...] = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
)
"""Okabe–Ito colours for models (their yellow, #F0E442, is left out: unreadable on white)."""

TOL_MUTED: tuple[str, ...] = (
    "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255",
    "#AA4499",
)
"""Paul Tol's muted scheme, for the analyses of the profile figure."""

FLAT_COLOUR = "#AAAAAA"
"""Grey of a profile line whose range is within its noise (drawn flat)."""

MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X")
"""Markers of variants (and of profile analyses), in order."""

LINESTYLES: tuple[str, ...] = ("-", "-.", ":")
"""Line styles of a trained model's variants, in order; ``--`` is kept for random twins."""

TWIN_LINESTYLE = "--"


@dataclass(frozen=True)
class Width:
    """A print width preset: figure width and the font sizes legible at that width."""

    name: str
    inches: float
    font: float  # axis labels and ticks, pt at print size
    title: float
    legend: float
    panel_height: float  # inches per row of an analysis figure
    overview_cols: int  # cells per overview row when models are few


WIDTHS: dict[str, Width] = {
    "column": Width("column", 3.3, 7.0, 8.0, 7.0, 1.7, 2),
    "page": Width("page", 7.0, 8.0, 9.0, 7.5, 2.3, 4),
}
"""``--width`` presets: one journal column (3.3 in) and a full page width (7 in)."""


def width_preset(name: str) -> Width:
    """The preset called `name` (``column`` or ``page``).

    Raises
    ------
    LwaUsageError : an unknown name (the message names ``--width``).
    """
    try:
        return WIDTHS[name]
    except KeyError:
        raise LwaUsageError(f"--width must be one of {', '.join(WIDTHS)}, not {name!r}") \
            from None


def model_colour(model: str, pinned: Mapping[str, str] | None = None) -> str:
    """The colour of `model` (a hex string): pinned, else from a hash of its name.

    The hash (SHA-256, not Python's salted `hash`) makes the colour the same across runs,
    machines and reports, whatever other models are plotted beside it.
    """
    if pinned and model in pinned:
        return pinned[model]
    digest = hashlib.sha256(model.encode("utf-8")).digest()
    return OKABE_ITO[int.from_bytes(digest[:8], "big") % len(OKABE_ITO)]


def variant_style(index: int, twin: bool) -> dict[str, str]:
    """Marker and line style of the `index`-th variant line of a figure (twins dashed)."""
    return {"marker": MARKERS[index % len(MARKERS)],
            "linestyle": TWIN_LINESTYLE if twin else LINESTYLES[index % len(LINESTYLES)]}


def analysis_style(position: int) -> dict[str, str]:
    """Colour, marker and line style of the analysis at registry `position` in the profile.

    Colours (9) and markers (7) cycle at different lengths, so no two of the first 63
    analyses look alike; past nine analyses the line style changes as well.
    """
    return {"colour": TOL_MUTED[position % len(TOL_MUTED)],
            "marker": MARKERS[position % len(MARKERS)],
            "linestyle": LINESTYLES[(position // len(TOL_MUTED)) % len(LINESTYLES)]}


_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")


def parse_colours(values: list[str]) -> dict[str, str]:
    """``["hubert_base=#0072B2"]`` → ``{"hubert_base": "#0072B2"}`` (for ``--colors``).

    Raises
    ------
    LwaUsageError : an entry that is not ``MODEL=#RRGGBB``.
    """
    out = {}
    for text in values:
        model, sep, colour = text.partition("=")
        if not sep or not model or not _HEX.match(colour):
            raise LwaUsageError(f"--colors {text!r}: expected MODEL=#RRGGBB, e.g. "
                                f"hubert_base=#0072B2")
        out[model] = colour.upper()
    return out
