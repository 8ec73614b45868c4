"""Exceptions that the CLI turns into one clear line.

`LwaError` is a failure the user can act on (bad input, missing data): exit code 1.
`LwaUsageError` is a wrong command line (unknown layer, bad option value): exit code 2.
Anything else is a bug and shows a traceback with ``--debug``.
"""


class LwaError(Exception):
    """A failure with a message that says what went wrong and what to do."""

    exit_code = 1


class LwaUsageError(LwaError):
    """The command line asks for something that cannot be: wrong value, range or name."""

    exit_code = 2
