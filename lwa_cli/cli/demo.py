"""`lwa demo corpus DIR`, `lwa demo models DIR`, `lwa demo oracles DIR`: the bundled demo data."""

from __future__ import annotations

from pathlib import Path

import typer

from lwa_cli.cli.common import (
    JSON_OPT,
    LwaCommand,
    PlainFlagsGroup,
    err_console,
    force_option,
    out_console,
    print_json,
    seed_option,
    split_option,
)
from lwa_cli.errors import LwaError


def _folder(dest: Path) -> Path:
    """DEST as a folder to write into: refused in one line when it is something else."""
    for path in (dest, *dest.parents):
        if path.exists() and not path.is_dir():
            what = "exists and is not a folder" if path == dest else f"is inside {path}, a file"
            raise LwaError(f"DEST {dest} {what}; give a folder (new or existing) to write the "
                           "demo files into")
    return dest


demo_app = typer.Typer(help="Write the bundled demo corpus, tiny demo models and a demo STS set.",
                       no_args_is_help=True, cls=PlainFlagsGroup)


@demo_app.command("corpus", cls=LwaCommand)
def corpus(dest: Path = typer.Argument(..., help="Directory to write LibriSpeech/ and "
                                                 "alignments/ into."),
           force: bool = force_option(help="Restore modified files."),
           as_json: bool = JSON_OPT) -> None:
    """Write the bundled synthetic speech corpus (LibriSpeech layout + TextGrids)."""
    from lwa_cli.demo.corpus import write_demo_corpus

    written = write_demo_corpus(_folder(dest), force=force)
    info = {"corpus": str(written.corpus_root), "alignments": str(written.alignments_root),
            "splits": list(written.splits)}
    if as_json:
        print_json(info)
    else:
        err_console.print(f"demo corpus ({', '.join(written.splits)}): audio in "
                          f"{written.corpus_root}, alignments in {written.alignments_root}")


@demo_app.command("models", cls=LwaCommand)
def models(dest: Path = typer.Argument(..., help="Directory to write the checkpoints into."),
           seed: int = seed_option("the random weights"),
           as_json: bool = JSON_OPT) -> None:
    """Write tiny seeded random-weight checkpoints: wav2vec2 (HF directory), HuBERT
    (fairseq .pt), WavLM (unilm .pt) and Whisper (HF directory)."""
    from lwa_cli.demo.models import write_demo_models

    written = write_demo_models(_folder(dest), seed=seed)
    if as_json:
        print_json({name: str(path) for name, path in written.items()})
        return
    for name, path in written.items():
        out_console.print(f"{name}: {path}")
    err_console.print("use e.g. `lwa extract --model demo_wav2vec2 --checkpoint "
                      f"{written.get('demo_wav2vec2', dest)} …` (random weights: the numbers "
                      "show the pipeline works, not what a trained model encodes)")


@demo_app.command("sts", cls=LwaCommand)
def sts(dest: Path = typer.Argument(..., help="Directory to write sts.tsv into."),
        corpus_root: Path = typer.Option(None, "--corpus",
                                         help="LibriSpeech-layout corpus (default: the bundled "
                                              "demo corpus)."),
        split: str = split_option("dev-clean", "Split whose utterances are paired."),
        max_pairs: int = typer.Option(40, "--max-pairs-per-speaker", min=1,
                                      help="Pairs kept per speaker (random, seeded)."),
        seed: int = seed_option("the pair draw"),
        as_json: bool = JSON_OPT) -> None:
    """Write a spoken-STS TSV manifest over the demo corpus with COMPUTED (word-overlap)
    similarity scores, not human judgements."""
    from lwa_cli.demo.corpus import bundled_corpus_path
    from lwa_cli.demo.sts import SCORE_NOTE, write_demo_sts_manifest

    root = corpus_root or bundled_corpus_path() / "LibriSpeech"
    manifest = _folder(dest) / "sts.tsv"
    rows = write_demo_sts_manifest(root, manifest, split=split, max_pairs_per_speaker=max_pairs,
                                   seed=seed)
    if as_json:
        print_json({"manifest": str(manifest), "rows": len(rows), "scores": SCORE_NOTE})
        return
    out_console.print(str(manifest))
    err_console.print(f"{len(rows)} sentence pairs of {split}; similarity scores are "
                      f"{SCORE_NOTE}. Next: `lwa prepare-sts --from {manifest} --name demo "
                      f"--score-note \"{SCORE_NOTE}\"`", highlight=False, soft_wrap=True)
@demo_app.command("oracles", cls=LwaCommand)
def oracles(dest: Path = typer.Argument(..., help="Directory to write semantic.txt and "
                                                  "syntactic.txt into."),
            as_json: bool = JSON_OPT) -> None:
    """Write the bundled demo attribute oracles (QVEC format, demo words only)."""
    from lwa_cli.demo.oracle_files import write_demo_oracles

    written = write_demo_oracles(_folder(dest))
    if as_json:
        print_json({name: str(path) for name, path in written.items()})
        return
    for name, path in written.items():
        out_console.print(f"{name}: {path}")
    err_console.print("use e.g. `lwa embeddings semantic --path "
                      f"{written['semantic']}` (demo oracles: see README.md next to them)")
