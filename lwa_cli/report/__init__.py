"""`lwa report`: gather stored results into tables, figures and an HTML page (SPEC §9).

`build_report` is the API; its parts are pure: `collect` (workspace → rows), `table`
(records → tidy and aggregated rows), `figdata` (rows → figure descriptions), `figures`
(descriptions → PNG/PDF/SVG bytes) and `html` (rows and images → a page).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

from lwa_cli import __version__
from lwa_cli.errors import LwaError
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.report.collect import PRODUCERS, collect, split_stale, stale_warning
from lwa_cli.report.figdata import (
    Baselines,
    YLims,
    analysis_figures,
    counts_of,
    overview_figure,
    profile_figure,
)
from lwa_cli.report.html import render_html
from lwa_cli.report.simmap import render_heatmap, similarity_figures
from lwa_cli.report.table import AGGREGATE_COLUMNS, csv_text, json_safe
from lwa_cli.workspace import Workspace

__all__ = ["PRODUCERS", "ReportSummary", "build_report", "plot_file_name", "split_stale"]


@dataclass
class ReportSummary:
    """What `build_report` wrote, and the aggregated rows it drew from.

    Attributes
    ----------
    out_dir : the report directory.
    csv, json, html : the tidy table (CSV), tidy and aggregated rows (JSON), the HTML page.
    plots : image path per figure: ``profile``, ``overview``, each analysis's name (and
        ``<analysis>-benchmarks`` for per-benchmark scores).
    figures : ``figures.json``, what every figure plots (see `lwa_cli.report.figdata`).
    n_records : stored results that entered the report.
    n_stale : stored results left out because their inputs changed after they were computed.
    rows : aggregated rows (mean ± std per model, analysis, split, variant and layer).
    """

    out_dir: Path
    csv: Path
    json: Path
    html: Path
    plots: dict[str, Path]
    n_records: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    n_stale: int = 0
    figures: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (paths as text, NaN as null)."""
        return json_safe({
            "out_dir": str(self.out_dir), "csv": str(self.csv), "json": str(self.json),
            "html": str(self.html), "plots": {a: str(p) for a, p in self.plots.items()},
            "figures": str(self.figures) if self.figures else None,
            "n_records": self.n_records, "n_stale": self.n_stale, "rows": self.rows,
        })


def plot_file_name(name: str, fmt: str = "png") -> str:
    """File name of a figure (characters unsafe in a file name become ``_``)."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name).lstrip(".") + f".{fmt}"




def _write_all(files: dict[Path, bytes]) -> None:
    """Write every file under a temporary name first, then rename each into place.

    A failure while writing leaves the previous report untouched and no temporary file.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
            # os.open with 0o666 honours the umask (mkstemp would make report files 0600).
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            if tmp.exists():
                tmp.unlink()


def build_report(ws: Workspace | Sequence[Workspace], out_dir: Path | str, *,
                 models: Sequence[str] | None = None,
                 analyses: Sequence[str] | None = None, fmt: str = "png", dpi: int = 150,
                 ylims: YLims | None = None, names: Mapping[str, str] | None = None,
                 baselines: Baselines | None = None, width: str = "page",
                 colours: Mapping[str, str] | None = None,
                 reporter: Reporter = SILENT) -> ReportSummary:
    """Write ``results.csv``, ``results.json``, the figures, ``figures.json``, ``index.html``.

    Parameters
    ----------
    ws : the workspace whose stored results are reported (stale ones are left out, counted),
        or several, reported together (a model in several must have the same weights).
    out_dir : report directory (created if needed; files of an earlier report are replaced).
    models, analyses : report only these (None or empty: all stored).
    fmt, dpi : image format (png, pdf, svg) and resolution of the figures.
    ylims : fixed y range per analysis (``"cca-mel"``) or analysis measure
        (``"wordsim:macro"``).
    names : display names per model, overriding the built-in ones.
    baselines : per analysis, (label, value) reference lines on its score axes.
    width : print width of the figures, ``column`` (3.3 in) or ``page`` (7 in); font sizes
        are legible at that width (`lwa_cli.report.style.WIDTHS`).
    colours : hex colour per model, pinning the one derived from its name.
    reporter : receives progress over the figures and warnings about unusable result files.

    Raises
    ------
    LwaError : no workspace, no stored results, or `out_dir` is not a writable directory.
    LwaUsageError : a requested model or analysis has no stored results, an unknown
        `width`.
    ValueError : an unknown `fmt` or a non-positive `dpi`.
    """
    # matplotlib only when figures are drawn
    from lwa_cli.report.figures import figure_size, render
    from lwa_cli.report.style import width_preset

    preset = width_preset(width)
    got = collect(ws, models=models, analyses=analyses, on_skip=reporter.warn)
    if got.stale:
        reporter.warn(stale_warning(ws, got.stale, "the report"))
    out = _out_dir(out_dir)
    lines = [r for r in got.aggregated if r["analysis"] != "similarity"]  # heatmaps instead
    counts = counts_of(got.rows)
    descriptions = [d for d in (profile_figure(lines, names=names),
                                overview_figure(lines, names=names, ylims=ylims,
                                                baselines=baselines, colours=colours,
                                                max_cols=preset.overview_cols))
                    if d is not None]
    descriptions += analysis_figures(lines, names=names, ylims=ylims,
                                     baselines=baselines, colours=colours, counts=counts)
    descriptions += similarity_figures(got.rows, got.specs, names)
    images: dict[str, bytes] = {}
    pngs: dict[str, bytes] = {}  # what the page shows when the figures are PDFs
    with reporter.task("figures", len(descriptions), "figure") as advance:
        for description in descriptions:
            name = description["name"]
            draw = (render_heatmap if description["kind"] == "heatmap"
                    else partial(render, width=preset))
            images[name] = draw(description, fmt, dpi)
            if fmt == "pdf":  # the page shows PNGs and links the PDFs
                pngs[name] = draw(description, "png", dpi)
            advance(1)

    versions = sorted({str(r["lwa_version"]) for r in got.records if r.get("lwa_version")})
    provenance = {
        "lwa version": __version__,
        "workspace": (str(ws.root) if isinstance(ws, Workspace)
                      else ", ".join(str(w.root) for w in ws)),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "results": f"{len(got.rows)} stored results",
        "stale results left out": str(got.n_stale),
        "results made by lwa": ", ".join(versions) or "unknown",
        "x axis": "transformer layer l, or depth l / L (conv layers on their own axis)",
    }
    if models:
        provenance["models"] = ", ".join(models)
    if analyses:
        provenance["analyses"] = ", ".join(analyses)
    document = {"provenance": provenance, "aggregate_columns": list(AGGREGATE_COLUMNS),
                "rows": got.rows, "aggregated": got.aggregated}
    paths = {"csv": out / "results.csv", "json": out / "results.json",
             "html": out / "index.html", "figures": out / "figures.json"}
    plot_paths = {name: out / plot_file_name(name, fmt) for name in images}
    png_paths = {name: out / plot_file_name(name, "png") for name in pngs}
    sidecar = {"format": fmt, "dpi": dpi, "width": preset.name,
               "font_pt": {"text": preset.font, "title": preset.title,
                           "legend": preset.legend},
               "figures": {d["name"]: {**d, "file": plot_paths[d["name"]].name,
                                       **({"png": png_paths[d["name"]].name}
                                          if d["name"] in png_paths else {}),
                                       **({} if d["kind"] == "heatmap" else
                                          {"size_in": list(figure_size(d, preset))})}
                           for d in descriptions}}
    files = {
        paths["csv"]: csv_text(got.rows).encode(),
        paths["json"]: _json_bytes(document),
        paths["figures"]: _json_bytes(sidecar),
        **{plot_paths[name]: data for name, data in images.items()},
        **{png_paths[name]: data for name, data in pngs.items()},
        paths["html"]: render_html(got.aggregated, pngs or images, provenance=provenance,
                                   fmt="png" if pngs else fmt, linked=fmt if pngs else None,
                                   figures=descriptions, counts=counts).encode(),
    }
    try:
        _write_all(files)
    except OSError as exc:
        raise LwaError(f"cannot write the report in {out} ({exc}); pass another --out") \
            from exc
    return ReportSummary(out_dir=out, csv=paths["csv"], json=paths["json"], html=paths["html"],
                         plots=plot_paths, n_records=len(got.rows), rows=got.aggregated,
                         n_stale=got.n_stale, figures=paths["figures"])


def _json_bytes(document: Any) -> bytes:
    return (json.dumps(json_safe(document), indent=1, allow_nan=False) + "\n").encode()


def _out_dir(out_dir: Path | str) -> Path:
    out = Path(out_dir).expanduser().resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LwaError(f"cannot create report directory {out} ({exc}); pass another --out") \
            from exc
    if not os.access(out, os.W_OK):
        raise LwaError(f"report directory {out} is not writable; pass another --out")
    return out
