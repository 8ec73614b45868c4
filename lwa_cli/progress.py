"""Progress and message reporting that the API uses and the CLI renders with rich.

API functions take a `Reporter`; the default `NullReporter` prints nothing, so the API stays
quiet and testable, and the CLI passes a `RichReporter` that draws progress bars with ETA.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# advance(n, seconds): n more units done, covering `seconds` of audio (0 if not audio).
Advance = Callable[..., None]


class Reporter:
    """Receives progress and messages from long-running API calls. This one ignores them."""

    @contextmanager
    def task(self, description: str, total: float | None, unit: str = "") -> Iterator[Advance]:
        """Context for one loop; the yielded callable advances it by a number of units."""
        yield lambda n=1, seconds=0.0: None

    def warn(self, message: str) -> None:
        """A condition the user should know about (data dropped, fallback taken)."""

    def info(self, message: str) -> None:
        """A short status line."""


SILENT = Reporter()  # the default for API calls: reports nothing


class RichReporter(Reporter):
    """Draws rich progress bars on stderr; `quiet` silences bars and info, not warnings."""

    def __init__(self, console: Console | None = None, quiet: bool = False) -> None:
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self.warnings: list[str] = []

    @contextmanager
    def task(self, description: str, total: float | None, unit: str = "") -> Iterator[Advance]:
        if self.quiet:
            yield lambda n=1, seconds=0.0: None
            return
        columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                   MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                   TimeElapsedColumn(), TimeRemainingColumn()]
        with Progress(*columns, console=self.console, transient=False) as progress:
            task_id = progress.add_task(description, total=total, rate="")
            start = time.perf_counter()
            audio = 0.0

            def advance(n: float = 1, seconds: float = 0.0) -> None:
                nonlocal audio
                audio += seconds
                progress.advance(task_id, n)
                elapsed = max(time.perf_counter() - start, 1e-9)
                rate = f"{progress.tasks[0].completed / elapsed:.1f} {unit}/s" if unit else ""
                if audio:
                    rate += f", {audio / elapsed:.1f} audio-s/s"
                progress.update(task_id, rate=rate)

            yield advance

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.console.print(f"[yellow]warning:[/yellow] {message}", highlight=False)

    def info(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message, highlight=False)
