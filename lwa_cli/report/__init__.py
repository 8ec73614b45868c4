"""`lwa report`: gather stored results into a table, CSV/JSON, plots and an HTML page (SPEC §9).

`build_report` is the API; `table`, `plots` and `html` are its pure parts (records → rows,
rows → PNG bytes, rows and PNGs → HTML text).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lwa_cli import __version__
from lwa_cli.errors import LwaError, LwaUsageError
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.report.html import render_html
from lwa_cli.report.plots import render_plot
from lwa_cli.report.table import (
    AGGREGATE_COLUMNS,
    aggregate,
    csv_text,
    json_safe,
    tidy_rows,
)
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.provenance import FreshnessChecker
from lwa_cli.workspace.results import load_results

__all__ = ["ReportSummary", "build_report", "plot_file_name"]

PRODUCERS = "`lwa cca`, `lwa mi` or `lwa wordsim`"
"""The commands that store results, for error messages."""


@dataclass
class ReportSummary:
    """What `build_report` wrote, and the aggregated rows it drew from.

    Attributes
    ----------
    out_dir : the report directory.
    csv, json, html : the tidy table (CSV), tidy and aggregated rows (JSON), the HTML page.
    plots : PNG path per analysis.
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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (paths as text, NaN as null)."""
        return json_safe({
            "out_dir": str(self.out_dir), "csv": str(self.csv), "json": str(self.json),
            "html": str(self.html), "plots": {a: str(p) for a, p in self.plots.items()},
            "n_records": self.n_records, "n_stale": self.n_stale, "rows": self.rows,
        })


def plot_file_name(analysis: str) -> str:
    """File name of an analysis's plot (characters unsafe in a file name become ``_``)."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", analysis).lstrip(".") + ".png"


def _select(records: list[dict[str, Any]], key: str, wanted: Sequence[str] | None,
            option: str) -> list[dict[str, Any]]:
    """Keep records whose `key` is in `wanted`; a wanted value with no result is an error."""
    if not wanted:
        return records
    present = sorted({str(r.get(key)) for r in records})
    unknown = [w for w in wanted if w not in present]
    if unknown:
        raise LwaUsageError(
            f"{option} {', '.join(unknown)}: no stored results; stored: {', '.join(present)}"
        )
    return [r for r in records if str(r.get(key)) in set(wanted)]


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


def build_report(ws: Workspace, out_dir: Path | str, *, models: Sequence[str] | None = None,
                 analyses: Sequence[str] | None = None, normalise_depth: bool = False,
                 reporter: Reporter = SILENT) -> ReportSummary:
    """Write ``results.csv``, ``results.json``, one PNG per analysis and ``index.html``.

    Parameters
    ----------
    ws : the workspace whose stored results are reported.
    out_dir : report directory (created if needed; files of an earlier report are replaced).
    models, analyses : report only these (None or empty: all stored).
    normalise_depth : plot against normalised depth (0..1 within each model) instead of
        layer names.
    reporter : receives progress over the plots and warnings about unusable result files.

    Raises
    ------
    LwaError : no workspace, no stored results, or `out_dir` is not a writable directory.
    LwaUsageError : a requested model or analysis has no stored results.
    """
    ws.check()
    records = load_results(ws)
    if not records:
        raise LwaError(f"no results in workspace {ws.root}; run {PRODUCERS} first")
    records, stale = split_stale(ws, records)
    if stale:
        reporter.warn(f"{len(stale)} stale result(s) left out of the report (their inputs "
                      f"changed after they were computed; rerun those analyses), e.g. "
                      f"{ws.rel(Path(stale[0][0]['file']))}: {stale[0][1]}")
    if not records:
        raise LwaError(f"every result in workspace {ws.root} is stale; rerun {PRODUCERS}")
    records = _select(records, "model", models, "--model")
    records = _select(records, "analysis", analyses, "--analysis")
    rows = tidy_rows(records, on_skip=reporter.warn)
    if not rows:
        raise LwaError(f"no usable results in workspace {ws.root}; rerun {PRODUCERS}")
    aggregated = aggregate(rows)

    out = Path(out_dir).expanduser().resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LwaError(f"cannot create report directory {out} ({exc}); pass another --out") \
            from exc
    if not os.access(out, os.W_OK):
        raise LwaError(f"report directory {out} is not writable; pass another --out")

    by_analysis: dict[str, list[dict[str, Any]]] = {}
    for row in aggregated:
        by_analysis.setdefault(row["analysis"], []).append(row)
    plots: dict[str, bytes] = {}
    with reporter.task("plots", len(by_analysis), "plot") as advance:
        for analysis, group in by_analysis.items():
            plots[analysis] = render_plot(group, normalise_depth=normalise_depth)
            advance(1)

    versions = sorted({str(r["lwa_version"]) for r in records if r.get("lwa_version")})
    provenance = {
        "lwa version": __version__,
        "workspace": str(ws.root),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "results": f"{len(rows)} stored results",
        "stale results left out": str(len(stale)),
        "results made by lwa": ", ".join(versions) or "unknown",
        "x axis": "normalised depth" if normalise_depth else "layer",
    }
    if models:
        provenance["models"] = ", ".join(models)
    if analyses:
        provenance["analyses"] = ", ".join(analyses)
    document = {"provenance": provenance, "aggregate_columns": list(AGGREGATE_COLUMNS),
                "rows": rows, "aggregated": aggregated}
    paths = {"csv": out / "results.csv", "json": out / "results.json",
             "html": out / "index.html"}
    plot_paths = {a: out / plot_file_name(a) for a in plots}
    files = {
        paths["csv"]: csv_text(rows).encode(),
        paths["json"]: (json.dumps(json_safe(document), indent=1, allow_nan=False)
                        + "\n").encode(),
        **{plot_paths[a]: png for a, png in plots.items()},
        paths["html"]: render_html(aggregated, plots, provenance=provenance).encode(),
    }
    try:
        _write_all(files)
    except OSError as exc:
        raise LwaError(f"cannot write the report in {out} ({exc}); pass another --out") \
            from exc
    return ReportSummary(out_dir=out, csv=paths["csv"], json=paths["json"], html=paths["html"],
                         plots=plot_paths, n_records=len(rows), rows=aggregated,
                         n_stale=len(stale))


def split_stale(ws: Workspace, records: list[dict[str, Any]]
                ) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    """(current records, [(stale record, why)]) by the workspace's provenance rule."""
    checker = FreshnessChecker(ws)
    fresh, stale = [], []
    for record in records:
        reason = checker.stale_reason(record)
        if reason is None:
            fresh.append(record)
        else:
            stale.append((record, reason))
    return fresh, stale
