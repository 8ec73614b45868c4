"""Draw the figure descriptions of `figdata` as PNG, PDF or SVG bytes.

Figures are drawn through `matplotlib.figure.Figure` on a non-GUI canvas, never through
pyplot, so no backend is touched and no global figure state is shared. Output is
deterministic: fixed sizes, fonts and series order, no timestamps or software version in
the file, a fixed SVG id salt.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lwa_cli.report.style import Width, width_preset

FORMATS = ("png", "pdf", "svg")
"""Image formats `render` writes."""

_STYLE = {
    "font.family": "DejaVu Sans",  # shipped with matplotlib: the same glyphs everywhere
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "lwa",  # SVG element ids from a fixed salt, not a random one
    "svg.fonttype": "none",
    "pdf.fonttype": 42,  # TrueType in PDFs: editable text, as journals ask
}
_METADATA = {"png": {"Software": None},
             "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
             "svg": {"Creator": None, "Date": None}}
_CONV_WIDTH = 0.45  # width of a conv panel relative to the transformer panel
_LINE = 1.0 / 72  # inches per point


def plain(text: str) -> str:
    """Text shown literally: a ``$`` would otherwise start matplotlib's mathtext."""
    return text.replace("$", r"\$")


def _nan(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _draw_series(ax: Any, s: Mapping[str, Any], size: float) -> None:
    if s["style"] == "baseline":  # a baseline of the score (figdata._overlay_series)
        ax.plot(_nan(s["x"]), _nan(s["y"]), color=s["colour"],
                linestyle=(":", "-.", "--")[s.get("dash", 0) % 3], linewidth=1.0, alpha=0.8,
                label=plain(s["label"]))
        return
    x, y, band = _nan(s["x"]), _nan(s["y"]), _nan(s.get("band", s["std"]))
    if s.get("connect"):  # a sparse random twin: join its scored layers, dashed
        keep = np.isfinite(y)
        x, y, band = x[keep], y[keep], band[keep]
    # NaN breaks the line: no segment is drawn across a layer without a result.
    ax.plot(x, y, color=s["colour"], linestyle=s["linestyle"], marker=s["marker"],
            markersize=size, linewidth=1.2, markerfacecolor="none" if s["connect"] else None,
            label=plain(s["label"]))
    if np.isfinite(band).any():
        ax.fill_between(x, y - band, y + band, color=s["colour"], alpha=0.18, linewidth=0)
    if s.get("best") and not s["best"].get("within_noise"):
        ax.plot([s["best"]["x"]], [s["best"]["y"]], marker="*", markersize=size * 2.6,
                color=s["colour"], markeredgecolor="black", markeredgewidth=0.5,
                linestyle="none", zorder=5)


def _draw_panel(ax: Any, panel: Mapping[str, Any], width: Width, kind: str,
                label_chars: int | None = None) -> None:
    if not panel["series"]:
        ax.text(0.5, 0.5, "no results", transform=ax.transAxes, ha="center", va="center",
                color="0.5")
        if kind != "overview":
            ax.set_xticks([])
    for s in panel["series"]:
        _draw_series(ax, s, 2.5 if kind == "overview" else 3.0)
    for b in panel["baselines"]:
        ax.axhline(b["value"], color="0.35", linestyle=":", linewidth=1.0,
                   label=plain(b["label"]))
    if panel["ylim"]:
        ax.set_ylim(*panel["ylim"])
    if panel["block"] == "conv":
        ticks = sorted({v for s in panel["series"] for v in s["x"]})
        ax.set_xticks(ticks, [f"C{int(t)}" for t in ticks])
    elif kind == "overview" or panel.get("x_label", "").startswith("transformer depth"):
        ax.set_xlim(-0.03, 1.03)
        ax.set_xticks([0, 0.5, 1])
    else:
        ticks = sorted({v for s in panel["series"] for v in s["x"]})
        if ticks:
            ax.set_xticks(ticks[::math.ceil(len(ticks) / (5 if width.name == "column" else 9))])
    if kind == "overview" and not panel["x_label"]:
        ax.tick_params(labelbottom=False)
    ax.set_xlabel(plain(panel["x_label"]))
    y_label = plain(panel["y_label"])
    if label_chars:  # small cells: a long label would run into the row below
        y_label = textwrap.fill(y_label, label_chars)
    ax.set_ylabel(y_label)
    if panel["title"]:
        ax.set_title(plain(panel["title"]), fontsize=width.font)


def figure_size(figure: Mapping[str, Any], width: Width) -> tuple[float, float]:
    """(width, height) in inches of a figure at a `width` preset, legend rows included."""
    rows, cols = figure["grid"]
    if figure["kind"] == "overview":
        panel = _overview_cell(cols, width)
    elif figure["kind"] == "profile":
        panel = width.panel_height * 0.85
    else:
        panel = width.panel_height
    line = width.legend * 1.4 * _LINE
    if figure["kind"] == "profile":  # a legend under each panel: that model's analyses
        # plus each panel's x label and ticks, which constrained layout takes from its row
        legend = sum(_profile_legend_height(p, width) + 0.4 for p in figure["panels"])
    else:
        entries = _legend_entries(figure)
        ncol = _legend_columns(entries, width)
        legend = math.ceil(len(entries) / ncol) * line if entries else 0.0
    return width.inches, round(panel * rows + legend + 0.45, 2)


def _overview_cell(cols: int, width: Width) -> float:
    """Height in inches of one overview cell (title, axes and ticks)."""
    return min(width.inches / cols * 0.85, 1.6)


def _label_chars(cell: float, width: Width) -> int:
    """Characters of an axis label that fit along the axes of a `cell` inches tall (the
    title and tick labels take ~30 pt; a character is ~0.58 em)."""
    return max(10, int((cell * 72 - 30) / (0.58 * width.font)))


def _wrap_width(width: Width) -> int:
    """Characters of legend text that fit one line at the preset's width."""
    return int((width.inches - 0.75) / (0.6 * width.legend * _LINE))


def _profile_labels(panel: Mapping[str, Any], width: Width) -> list[str]:
    return [textwrap.fill(plain(s["label"]), _wrap_width(width), subsequent_indent="  ")
            for s in panel["series"]]


def _profile_legend_height(panel: Mapping[str, Any], width: Width) -> float:
    labels = _profile_labels(panel, width)
    lines = sum(label.count("\n") + 1 for label in labels)
    return (lines * 1.25 + len(labels) * 0.55 + 0.8) * width.legend * _LINE


def _legend_entries(figure: Mapping[str, Any]) -> list[str]:
    if figure["kind"] == "overview":
        return [e["label"] for e in figure.get("legend", [])]
    labels: dict[str, None] = {}
    for panel in figure["panels"]:
        for item in (*panel["series"], *panel["baselines"]):
            labels.setdefault(item["label"])
    return list(labels)


def _legend_columns(labels: list[str], width: Width) -> int:
    """As many legend columns as fit the width (a character ~0.55 em, plus the sample)."""
    if not labels:
        return 1
    longest = max(len(label) for label in labels) * 0.55 * width.legend * _LINE + 0.45
    return max(1, min(len(labels), int(width.inches // longest), 4))


def draw(figure: Mapping[str, Any], width: Width | str = "page") -> Figure:
    """A matplotlib `Figure` of one figure description at a print `width` preset."""
    width = width_preset(width) if isinstance(width, str) else width
    rows, cols = figure["grid"]
    kind = figure["kind"]
    conv_split = kind == "analysis" and cols == 2
    ratios = [_CONV_WIDTH, 1.0] if conv_split else [1.0] * cols
    heights = None
    if kind == "profile":  # a row for each panel's legend under it, as tall as its text
        panel_height = width.panel_height * 0.85
        heights = [h for p in figure["panels"]
                   for h in (panel_height, _profile_legend_height(p, width))]
        rows = 2 * rows
    style = {**_STYLE, "font.size": width.font, "axes.titlesize": width.font,
             "axes.labelsize": width.font, "xtick.labelsize": width.font - 0.5,
             "ytick.labelsize": width.font - 0.5, "legend.fontsize": width.legend}
    with matplotlib.rc_context(style):
        fig = Figure(figsize=figure_size(figure, width), layout="constrained")
        grid = fig.add_gridspec(rows, cols, width_ratios=ratios, height_ratios=heights)
        axes: dict[tuple[int, int], Any] = {}
        first = None
        label_chars = (_label_chars(_overview_cell(cols, width), width)
                       if kind == "overview" else None)
        for panel in figure["panels"]:
            if kind == "overview":
                share = {"sharex": first}
            else:
                share = {"sharey": axes.get((panel["row"], 0)) if conv_split else None}
            row = 2 * panel["row"] if kind == "profile" else panel["row"]
            ax = fig.add_subplot(grid[row, panel["col"]], **share)
            first = first or ax
            axes[(panel["row"], panel["col"])] = ax
            _draw_panel(ax, panel, width, kind, label_chars)
        if kind == "profile":
            for panel in figure["panels"]:
                _profile_legend(fig.add_subplot(grid[2 * panel["row"] + 1, 0]),
                                axes[(panel["row"], 0)], panel, width)
        else:
            _legends(fig, figure, axes, width)
        fig.suptitle(plain(figure["title"]), fontsize=width.title)
    return fig


def render(figure: Mapping[str, Any], fmt: str = "png", dpi: int = 300,
           width: Width | str = "page") -> bytes:
    """The bytes of one figure description (`lwa_cli.report.figdata`) in `fmt`, drawn at
    the `width` preset (``column`` 3.3 in or ``page`` 7 in, `lwa_cli.report.style.WIDTHS`).

    Raises
    ------
    ValueError : an unknown format or a non-positive dpi.
    LwaUsageError : an unknown width preset.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if dpi <= 0:
        raise ValueError(f"dpi must be positive, not {dpi}")
    width = width_preset(width) if isinstance(width, str) else width
    fig = draw(figure, width)
    buffer = io.BytesIO()
    with matplotlib.rc_context(_STYLE):
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=_METADATA[fmt])
    return buffer.getvalue()


def _profile_legend(slot: Any, ax: Any, panel: Mapping[str, Any], width: Width) -> None:
    """A profile panel's legend in the row under it, one entry a line, wrapped to fit."""
    slot.axis("off")
    handles = ax.get_legend_handles_labels()[0]
    if handles:
        legend = slot.legend(handles, _profile_labels(panel, width), loc="upper left",
                             bbox_to_anchor=(0.0, 1.0), frameon=False, borderaxespad=0.0,
                             handlelength=2.2)
        legend.set_in_layout(False)  # its row is sized for it; the axes keep their width


def _legends(fig: Figure, figure: Mapping[str, Any], axes: Mapping[tuple[int, int], Any],
             width: Width) -> None:
    """Legends below the axes, never over them: one per model (overview), one for the
    figure (analysis figures)."""
    if figure["kind"] == "overview":
        entries = figure.get("legend", [])
        if entries:
            handles = [Line2D([], [], color=e["colour"], linewidth=1.4,
                              linestyle="--" if e["model"] is None else "-")
                       for e in entries]
            labels = [plain(e["label"]) for e in entries]
            fig.legend(handles, labels, loc="outside lower center", frameon=False,
                       ncol=_legend_columns(labels, width))
        return
    found: dict[str, Any] = {}
    for ax in axes.values():
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            found.setdefault(label, handle)
    if found:
        fig.legend(list(found.values()), list(found), loc="outside lower center",
                   ncol=_legend_columns(list(found), width), frameon=False)
