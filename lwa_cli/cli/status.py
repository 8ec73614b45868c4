"""`lwa status`: what the workspace holds and whether each artefact is current."""

from __future__ import annotations

import typer
from rich.table import Table

from lwa_cli.analyses import ANALYSES
from lwa_cli.cli.common import JSON_OPT, out_console, print_json, state

_COLUMNS = {
    "alignments": ("split", "utterances", "phone_segments", "word_segments", "skipped_bad",
                   "missing_audio"),
    "samples": ("split", "kind", "sample", "seed", "utterances", "tokens", "state", "in_use"),
    "features": ("model", "split", "sample", "file", "state", "layers", "rows", "size_mib",
                 "in_use"),
    "results": ("analysis", "model", "split", "sample", "fresh", "stale", "layers", "variants",
                "why"),
}


def _cell(value) -> str:
    if isinstance(value, list):
        return f"{value[0]}…{value[-1]} ({len(value)})" if len(value) > 2 else ", ".join(value)
    if isinstance(value, bool):
        return "yes" if value else ""
    return "" if value is None else str(value)


def _in_registry_order(rows: list[dict]) -> list[dict]:
    """Result groups in the analysis registry's order (the report's), unknown ones last."""
    order = {name: i for i, name in enumerate(ANALYSES)}
    return sorted(rows, key=lambda row: order.get(row.get("analysis"), len(order)))


def status(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """Alignments, samples, feature files and results in the workspace, and which are stale."""
    from lwa_cli.workspace.inventory import describe_workspace

    st = state(ctx)
    described = describe_workspace(st.workspace)
    if as_json:
        print_json(described)
        return
    for section, rows in described.items():
        if not rows:
            st.say(f"{section}: none")
            continue
        table = Table(title=f"{section} in {st.workspace.root}")
        for col in _COLUMNS[section]:
            table.add_column(col.replace("_", " "), overflow="fold")
        for row in _in_registry_order(rows) if section == "results" else rows:
            table.add_row(*(_cell(row.get(col)) for col in _COLUMNS[section]))
        out_console.print(table)
