"""`lwa clean features`: remove feature files on purpose, keeping the results made from them."""

from __future__ import annotations

import typer

from lwa_cli.cli.common import (
    JSON_OPT,
    LwaCommand,
    PlainFlagsGroup,
    model_filter_option,
    print_json,
    sample_filter_option,
    split_option,
    state,
)

clean_app = typer.Typer(help="Remove stored data on purpose (results computed from it are kept).",
                        no_args_is_help=True, cls=PlainFlagsGroup)


@clean_app.command("features", cls=LwaCommand)
def features(ctx: typer.Context,
             model: list[str] = model_filter_option(),
             span: list[str] = typer.Option([], "--span",
                                            help="Only this span (frame, phone, word, wordsim, "
                                                 "utt, allwords) or file (frame-local); "
                                                 "repeatable."),
             split: list[str] = split_option([], "Only this split (repeatable)."),
             sample: list[str] = sample_filter_option(),
             dry_run: bool = typer.Option(False, "--dry-run",
                                          help="List what would be removed; remove nothing."),
             as_json: bool = JSON_OPT) -> None:
    """Remove feature files; results computed from them stay current (the removal is recorded).

    A feature file extracted again later is read as usual: if it differs from the removed one
    (other weights, another sample), the results made from the removed one become stale.
    """
    from lwa_cli.workspace.cleaning import clean_features

    st = state(ctx)
    removed = clean_features(st.workspace, model=model or None, span=span or None,
                             split=split or None, sample=sample or None, dry_run=dry_run)
    if as_json:
        print_json({"dry_run": dry_run, "removed": removed})
        return
    verb = "would remove" if dry_run else "removed"
    for entry in removed:
        st.say(f"{verb} {entry['path']} ({entry['size_mib']} MiB)")
    total = sum(float(e["size_mib"] or 0) for e in removed)
    st.say(f"{verb} {len(removed)} feature file(s), {total:.1f} MiB; results computed from "
           "them stay current (see `lwa status`)")
