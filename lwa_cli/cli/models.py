"""`lwa models`: the model registry."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from lwa_cli.cli.common import JSON_OPT, out_console, print_json


def models(as_json: bool = JSON_OPT,
           check: str = typer.Option(None, "--check", metavar="CHECKPOINT",
                                     help="Say what lwa would do with a checkpoint (directory, "
                                          ".pt or cached hub id): family, format, layers, "
                                          "frame period, input convention.")) -> None:
    """List the registered models: family, layers, conv layers, width, frame period."""
    from lwa_cli.models.registry import registry_rows

    if check is not None:
        _check(check, as_json)
        return
    rows = registry_rows()
    if as_json:
        print_json(rows)
        return
    table = Table(title="lwa model registry (use --model NAME --checkpoint PATH; *_random "
                        "needs no checkpoint)")
    for col in ("name", "family", "transformers class", "layers", "conv layers", "hidden",
                "frame period", "normalised input", "pre-LN"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], r["family"], r["hf_class"], r["layers"],
                      str(r["n_conv"]) if r["n_conv"] else "none", str(r["hidden_size"]),
                      f"{r['frame_period_s'] * 1000:g} ms",
                      "yes" if r["normalize_input"] else "no", "yes" if r["pre_ln"] else "no")
    out_console.print(table)


def _check(checkpoint: str, as_json: bool) -> None:
    """Print `describe_checkpoint` of one checkpoint."""
    from lwa_cli.models.check import describe_checkpoint

    info = describe_checkpoint(Path(checkpoint) if Path(checkpoint).exists() else checkpoint)
    if as_json:
        print_json(info)
        return
    table = Table(title=f"lwa models --check {checkpoint}", show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for key in ("resolved", "hub_commit", "format", "family", "path", "model_class", "layers",
                "hidden_size", "frame_period_ms", "input", "last_layer"):
        if key == "frame_period_ms":
            table.add_row("frame period", f"{info[key]:g} ms")
        elif info[key] is not None:
            table.add_row(key.replace("_", " "), str(info[key]))
    for note in info["notes"]:
        table.add_row("note", note)
    out_console.print(table)
