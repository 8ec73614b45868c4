"""Exceptions that the CLI turns into one clear line.

`LwaError` is a failure the user can act on (bad input, missing data): exit code 1.
`LwaUsageError` is a wrong command line (unknown layer, bad option value): exit code 2.
Anything else is a bug and shows a traceback with ``--debug``.
"""

import difflib
from collections.abc import Iterable


class LwaError(Exception):
    """A failure with a message that says what went wrong and what to do."""

    exit_code = 1


class LwaUsageError(LwaError):
    """The command line asks for something that cannot be: wrong value, range or name."""

    exit_code = 2


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean X?)`` for a near miss among `choices`, else an empty string."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""
