"""What differs between the typer/click versions lwa runs under, in one place.

typer ≤ 0.2x builds on the `click` package; newer typer carries its own copy of click
(`typer._click`), whose exceptions are not `click.exceptions.*`. The CLI must let the
exceptions that mean "help was shown", "usage error" or "abort" pass to typer's own handler
under both, or `--help` and usage errors turn into failures.
"""

from __future__ import annotations

import importlib

import typer


def _click_module():
    """The click that the installed typer uses (its vendored copy, or the click package)."""
    core = importlib.import_module("typer.core")
    return getattr(core, "_click", None) or importlib.import_module("click")


def _passthrough() -> tuple[type[BaseException], ...]:
    exceptions = _click_module().exceptions
    classes = {typer.Exit, typer.Abort, exceptions.ClickException}
    for name in ("Exit", "Abort"):
        if hasattr(exceptions, name):
            classes.add(getattr(exceptions, name))
    return tuple(classes)


PASSTHROUGH = _passthrough()
"""Exceptions the CLI re-raises untouched: help/exit, usage errors, aborts."""

UsageError: type[Exception] = _click_module().exceptions.UsageError
"""The usage error of the installed click (exit code 2, with the usage line)."""
