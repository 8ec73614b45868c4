"""Progress and message reporting that the API uses and the CLI renders with rich.

API functions take a `Reporter`; the default `NullReporter` prints nothing, so the API stays
quiet and testable, and the CLI passes a `RichReporter` that draws progress bars with ETA.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

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
from rich.text import Text

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


def plural(n: float, unit: str) -> str:
    """``1 layer``, ``2 layers``, ``16 figures``, ``0 utt`` (abbreviations stay as they are)."""
    if not unit:
        return f"{n:g}"
    if n == 1 or unit in ("utt", "s", "audio-s"):
        return f"{n:g} {unit}"
    if unit.endswith("is"):  # analysis → analyses
        return f"{n:g} {unit[:-2]}es"
    if unit.endswith("s"):  # already a plural
        return f"{n:g} {unit}"
    return f"{n:g} {unit}es" if unit.endswith(("x", "ch", "sh")) else f"{n:g} {unit}s"


def timestamp(wall: Callable[[], datetime] = datetime.now) -> str:
    """The local time of a log line, to the second: ``2026-12-06 23:15:02``."""
    return wall().strftime("%Y-%m-%d %H:%M:%S")


class PlainProgress:
    """Progress as plain lines for logs (stderr not a terminal: a file, a SLURM log, a pipe).

    A line at the start, then whenever another `step` of the total is done or `interval`
    seconds have passed, and at the end; each line starts with the time of day and is flushed
    at once, so a log shows how far a long run is, and when, while it runs.
    """

    def __init__(self, console: Console, description: str, total: float | None, unit: str,
                 *, step: float = 0.1, interval: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = datetime.now) -> None:
        self.console, self.description, self.total, self.unit = console, description, total, unit
        self.step, self.interval, self.clock, self.wall = step, interval, clock, wall
        self.start = self.last_time = clock()
        self.done = 0.0
        self.last_fraction = 0.0
        self._line()

    def _line(self) -> None:
        elapsed = self.clock() - self.start
        text = f"{timestamp(self.wall)} {self.description}: "
        if self.total:
            fraction = self.done / self.total
            text += f"{self.done:g}/{plural(self.total, self.unit)} ({100 * fraction:.0f}%)"
            if 0 < fraction < 1:
                left = elapsed * (1 - fraction) / fraction
                text += f", {elapsed:.0f} s elapsed, ~{left:.0f} s left"
            else:
                text += f", {elapsed:.0f} s"
        else:
            text += f"{plural(self.done, self.unit)}, {elapsed:.0f} s"
        self.console.print(text, highlight=False, soft_wrap=True, markup=False, emoji=False)
        self.console.file.flush()
        self.last_time = self.clock()

    def advance(self, n: float = 1, seconds: float = 0.0) -> None:
        self.done += n
        now = self.clock()
        fraction = self.done / self.total if self.total else 0.0
        finished = bool(self.total) and self.done >= self.total
        if finished or fraction - self.last_fraction >= self.step - 1e-12 or \
                now - self.last_time >= self.interval:
            self.last_fraction = fraction
            self._line()


class RichReporter(Reporter):
    """Progress and messages on stderr: rich bars on a terminal, plain lines in a log.

    `quiet` silences progress, info and warnings: only errors (raised) and data remain.
    In a log, `header` (what runs: version, command, options) is printed once, with the time,
    before the first progress line, so a long run's log says what it is a log of.
    """

    def __init__(self, console: Console | None = None, quiet: bool = False,
                 header: str | None = None) -> None:
        self.console = console or Console(stderr=True, markup=False, emoji=False)
        self.quiet = quiet
        self.header = header
        self.warnings: list[str] = []

    def _log_header(self) -> None:
        if self.header:
            self.console.print(f"{timestamp()} {self.header}", highlight=False,
                               soft_wrap=True, markup=False, emoji=False)
            self.header = None

    @contextmanager
    def task(self, description: str, total: float | None, unit: str = "") -> Iterator[Advance]:
        if self.quiet:
            yield lambda n=1, seconds=0.0: None
            return
        if not self.console.is_terminal:
            self._log_header()
            yield PlainProgress(self.console, description, total, unit).advance
            return
        columns = [SpinnerColumn(), TextColumn("{task.description}", style="bold", markup=False),
                   BarColumn(),
                   MofNCompleteColumn(), TextColumn("{task.fields[rate]}", markup=False),
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
        if not self.quiet:
            self.console.print(Text.assemble(("warning:", "yellow"), " ", str(message)),
                               highlight=False, soft_wrap=True)

    def info(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message, highlight=False, soft_wrap=True, markup=False,
                               emoji=False)
