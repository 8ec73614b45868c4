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

from lwa_cli.models.registry import DEMO_DISPLAY_NAMES
from lwa_cli.report.analyses import info, trained_twin
from lwa_cli.report.figdata import within_noise

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; }
th { background: #f0f0f0; text-align: left; } td.num { text-align: right; }
img { max-width: 100%; height: auto; }
p.caption { font-size: 0.85em; color: #444; } p.caveat { background: #fff4d6; padding: 0.5em; }
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


def _image(name: str, image: bytes, fmt: str, alt: str, linked: str | None = None) -> str:
    if fmt in _MIME:
        tag = f'<img src="{data_uri(image, fmt)}" alt="{escape(alt)}">'
        if linked:
            file = f"{name}.{linked}"
            tag += f'\n<p><a href="{escape(file)}">{escape(file)}</a></p>'
        return tag
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
                title: str = "lwa report", linked: str | None = None,
                figures: Sequence[Mapping[str, Any]] = (),
                counts: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The report page: table of contents, caveats, best-layer summary, figures, tables.

    Parameters
    ----------
    aggregated : aggregated rows (`lwa_cli.report.table.aggregate`), in display order.
    images : image bytes per figure name: ``profile`` and ``overview`` go first, an
        analysis's figures (``<analysis>``, ``<analysis>-benchmarks``) above its table.
    provenance : label → value pairs listed at the top (lwa version, workspace, date, ...).
    fmt : the images' format (png and svg are embedded, pdf linked).
    title : page title.
    linked : the format of figure files the page links beside the embedded images (the
        PDFs of ``--format pdf``, whose PNGs are embedded); None for none.
    figures : the figure descriptions (`lwa_cli.report.figdata`): their captions are shown.
    counts : N per ``analysis|model|variant|split`` (`figdata.counts_of`), in the summary.
    """
    by_analysis: dict[str, list[Mapping[str, Any]]] = {}
    for row in aggregated:
        by_analysis.setdefault(row["analysis"], []).append(row)
    captions = {f["name"]: f.get("caption", "") for f in figures}
    toc_items = [("summary", "Best layer per analysis and model")]
    toc_items += [(f"fig-{name}", f"{name.capitalize()} figure")
                  for name in ("profile", "overview") if name in images]
    toc_items += [(_anchor(a), f"{info(a).title} ({a})") for a in by_analysis]
    toc = "".join(f'<li><a href="#{escape(anchor)}">{escape(text)}</a></li>'
                  for anchor, text in toc_items)
    prov = "\n".join(f"<dt>{escape(str(k))}</dt><dd>{escape(str(v))}</dd>"
                     for k, v in provenance.items())
    summary = "\n".join(f'<section id="fig-{name}">\n<h2>{name.capitalize()}</h2>\n'
                        + _image(name, images[name], fmt, f"{name} figure", linked)
                        + "\n</section>"
                        for name in ("profile", "overview") if name in images)
    sections = []
    for analysis, rows in by_analysis.items():
        heading = f"{info(analysis).title} ({analysis})"
        figs = "\n".join(_image(name, images[name], fmt, f"layer-wise plot of {name}", linked)
                         + (f'\n<p class="caption">{escape(captions[name])}</p>'
                            if captions.get(name) else "")
                         for name in (analysis, f"{analysis}-benchmarks",
                                      *_heatmaps(analysis, images))
                         if name in images)
        sections.append(f'<section id="{escape(_anchor(analysis))}">\n'
                        f"<h2>{escape(heading)}</h2>\n{figs}\n{_table(rows)}\n</section>")
    body = "\n".join(sections)
    notes = "".join(f'<p class="caveat">{escape(c)}</p>' for c in caveats(aggregated))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<h1>{escape(title)}</h1>\n<nav id="toc"><h2>Contents</h2><ul>{toc}</ul></nav>\n'
        f"{notes}\n<dl class=\"prov\">\n{prov}\n</dl>\n"
        f"<p>Mean ± standard deviation over samples and iterations (std only where n &gt; 1); "
        f"n counts the results averaged.</p>\n"
        f"{best_layer_table(aggregated, counts or {})}\n{summary}\n{body}\n"
        "</body>\n</html>\n"
    )


def _heatmaps(analysis: str, images: Mapping[str, bytes]) -> list[str]:
    """The heatmaps of `lwa similarity` (``similarity-<A>-vs-<B>-<measure>``), in order."""
    return sorted(n for n in images if analysis == "similarity" and n.startswith("similarity-"))
def caveats(aggregated: Sequence[Mapping[str, Any]]) -> list[str]:
    """Warnings the page opens with: demo models (random weights, synthetic speech), random-
    init twins (untrained baselines)."""
    models = {str(r["model"]) for r in aggregated}
    out = []
    demo = sorted(m for m in models if m in DEMO_DISPLAY_NAMES or m.startswith("demo_"))
    if demo:
        out.append(f"Demo data: {', '.join(demo)} have random weights and the demo corpus is "
                   "synthetic; these numbers show that the pipeline runs and say nothing "
                   "about real speech models.")
    twins = sorted(m for m in models if trained_twin(m))
    if twins:
        out.append(f"Random weights: {', '.join(twins)} are random-init twins (untrained "
                   "baselines), drawn dashed in the figures.")
    return out


def best_layer_table(aggregated: Sequence[Mapping[str, Any]],
                     counts: Mapping[str, Mapping[str, str]]) -> str:
    """Analysis × model: the best layer of each score line (by the registry's
    ``higher_is_better``) with its mean, and N (samples, rows/tokens/pairs) per row. A line
    whose range is within its noise (`figdata.within_noise`) is marked ``≈``."""
    lines: dict[tuple[str, str, str], dict[str, list[Mapping[str, Any]]]] = {}
    for r in aggregated:
        score = r.get("measure", "score") == "score"
        if score and isinstance(r["mean"], float) and math.isfinite(r["mean"]):
            lines.setdefault((r["analysis"], r["variant"], r["split"]), {}) \
                .setdefault(r["model"], []).append(r)
    models = sorted({m for per in lines.values() for m in per})
    head = "".join(f"<th>{escape(m)}</th>" for m in models)
    body = []
    for (analysis, variant, split), per in lines.items():
        higher = info(analysis).higher_is_better
        cells = []
        for model in models:
            pts = per.get(model)
            if not pts:
                cells.append("<td>–</td>")
                continue
            best = (max if higher else min)(pts, key=lambda p: p["mean"])
            line = {"y": [p["mean"] for p in pts], "std": [p.get("std") for p in pts],
                    "trial_std": [p.get("trial_std") for p in pts]}
            flat = within_noise(line)  # every layer alike: no layer is best
            mark = ' title="range within the noise">≈ ' if flat else ">"
            cells.append(f'<td class="num"{mark}{escape(best["layer"])}: '
                         f'{best["mean"]:.4f}</td>')
        n = "; ".join(f"{m}: " + ", ".join(f"{k} = {v}" for k, v in got.items())
                      for m in models
                      if (got := counts.get(f"{analysis}|{m}|{variant}|{split}")))
        samples = sorted({int(p["n_samples"]) for pts in per.values() for p in pts})
        body.append(f"<tr><td>{escape(analysis)}</td><td>{escape(variant)}</td>"
                    f"<td>{escape(split)}</td><td>{'higher' if higher else 'lower'}</td>"
                    + "".join(cells)
                    + f'<td class="num">{"–".join(map(str, sorted({samples[0], samples[-1]})))}'
                    f"</td><td>{escape(n) or '–'}</td></tr>")
    return ('<section id="summary">\n<h2>Best layer per analysis and model</h2>\n'
            "<table>\n<thead><tr><th>analysis</th><th>variant</th><th>split</th>"
            f"<th>better</th>{head}<th>samples</th><th>N</th></tr></thead>\n<tbody>\n"
            + "\n".join(body) + "\n</tbody>\n</table>\n</section>")


def _anchor(analysis: str) -> str:
    """An id attribute value for an analysis section."""
    return "a-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in analysis)
