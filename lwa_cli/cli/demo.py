"""`lwa demo corpus DIR` and `lwa demo models DIR`: the bundled demo data."""

from __future__ import annotations

from pathlib import Path

import typer

from lwa_cli.cli.common import out_console, print_json

demo_app = typer.Typer(help="Write the bundled demo corpus and tiny demo models.",
                       no_args_is_help=True)


@demo_app.command("corpus")
def corpus(dest: Path = typer.Argument(..., help="Directory to write LibriSpeech/ and "
                                                 "alignments/ into."),
           force: bool = typer.Option(False, "--force", help="Restore modified files."),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Write the bundled synthetic speech corpus (LibriSpeech layout + TextGrids)."""
    from lwa_cli.demo.corpus import write_demo_corpus

    written = write_demo_corpus(dest, force=force)
    info = {"corpus": str(written.corpus_root), "alignments": str(written.alignments_root),
            "splits": list(written.splits)}
    if as_json:
        print_json(info)
    else:
        out_console.print(f"demo corpus ({', '.join(written.splits)}): audio in "
                          f"{written.corpus_root}, alignments in {written.alignments_root}")
