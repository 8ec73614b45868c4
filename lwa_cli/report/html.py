"""A self-contained HTML report: embedded figures, the aggregated table and provenance.

The page loads nothing from anywhere (no external CSS, JS, fonts or images), so it can be
mailed or archived as one file; PDF figures, which browsers do not show inline, are linked
by file name instead. Every piece of text from results is HTML-escaped.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from lwa_cli.report.analyses import info

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; }
th { background: #f0f0f0; text-align: left; } td.num { text-align: right; }
img { max-width: 100%; height: auto; }
dl.prov { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.prov dt { font-weight: bold; } dl.prov dd { margin: 0; font-family: monospace; }
"""

TABLE_COLUMNS: tuple[str, ...] = (
    "model", "split", "variant", "measure", "layer", "depth", "mean", "std", "n", "n_samples",
    "n_iters", "trial_std",
)
"""Columns of each analysis's table in the page."""


_MIME = {"png": "image/png", "svg": "image/svg+xml"}


def data_uri(image: bytes, fmt: str = "png") -> str:
    """A ``data:`` URI that embeds PNG or SVG bytes in the page."""
    return f"data:{_MIME[fmt]};base64," + base64.b64encode(image).decode("ascii")


def _image(name: str, image: bytes, fmt: str, alt: str) -> str:
    if fmt in _MIME:
        return f'<img src="{data_uri(image, fmt)}" alt="{escape(alt)}">'
    file = f"{name}.{fmt}"
    return f'<p><a href="{escape(file)}">{escape(file)}</a> ({escape(alt)})</p>'


def _cell(column: str, value: Any) -> str:
    if value is None and column in ("std", "trial_std"):
        return '<td class="num">–</td>'
    if isinstance(value, float):
        text = "–" if math.isnan(value) else (f"{value:.3f}" if column == "depth"
                                               else f"{value:.4f}")
        return f'<td class="num">{text}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    return f"<td>{escape('' if value is None else str(value))}</td>"


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in TABLE_COLUMNS)
    body = "\n".join("<tr>" + "".join(_cell(c, row.get(c)) for c in TABLE_COLUMNS) + "</tr>"
                     for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def render_html(aggregated: Sequence[Mapping[str, Any]], images: Mapping[str, bytes], *,
                provenance: Mapping[str, Any], fmt: str = "png",
                title: str = "lwa report") -> str:
    """The report page.

    Parameters
    ----------
    aggregated : aggregated rows (`lwa_cli.report.table.aggregate`), in display order.
    images : image bytes per figure name: ``profile`` and ``overview`` go first, an
        analysis's figures (``<analysis>``, ``<analysis>-benchmarks``) above its table.
    provenance : label → value pairs listed at the top (lwa version, workspace, date, ...).
    fmt : the images' format (png and svg are embedded, pdf linked).
    title : page title.
    """
    by_analysis: dict[str, list[Mapping[str, Any]]] = {}
    for row in aggregated:
        by_analysis.setdefault(row["analysis"], []).append(row)
    toc = "".join(f'<li><a href="#{escape(_anchor(a))}">{escape(a)}</a></li>'
                  for a in by_analysis)
    prov = "\n".join(f"<dt>{escape(str(k))}</dt><dd>{escape(str(v))}</dd>"
                     for k, v in provenance.items())
    summary = "\n".join(_image(name, images[name], fmt, f"{name} figure")
                        for name in ("profile", "overview") if name in images)
    sections = []
    for analysis, rows in by_analysis.items():
        heading = f"{info(analysis).title} ({analysis})"
        figures = "\n".join(_image(name, images[name], fmt, f"layer-wise plot of {name}")
                            for name in (analysis, f"{analysis}-benchmarks",
                                         *_heatmaps(analysis, images))
                            if name in images)
        sections.append(f'<section id="{escape(_anchor(analysis))}">\n'
                        f"<h2>{escape(heading)}</h2>\n{figures}\n{_table(rows)}\n</section>")
    body = "\n".join(sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n<dl class=\"prov\">\n{prov}\n</dl>\n"
        f"<p>Mean ± standard deviation over samples and iterations (std only where n &gt; 1); "
        f"n counts the results averaged.</p>\n{summary}\n<ul>{toc}</ul>\n{body}\n"
        "</body>\n</html>\n"
    )


def _heatmaps(analysis: str, images: Mapping[str, bytes]) -> list[str]:
    """The heatmaps of `lwa similarity` (``similarity-<A>-vs-<B>-<measure>``), in order."""
    return sorted(n for n in images if analysis == "similarity" and n.startswith("similarity-"))


def _anchor(analysis: str) -> str:
    """An id attribute value for an analysis section."""
    return "a-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in analysis)
