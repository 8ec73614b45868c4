"""`lwa models`: the model registry."""

from __future__ import annotations

from rich.table import Table

from lwa_cli.cli.common import JSON_OPT, out_console, print_json


def models(as_json: bool = JSON_OPT) -> None:
    """List the registered models: family, layers, conv layers, width, frame period."""
    from lwa_cli.models.registry import registry_rows

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
