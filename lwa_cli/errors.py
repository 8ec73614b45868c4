"""Exceptions that the CLI turns into one clear line.

`LwaError` is a failure the user can act on (bad input, missing data): exit code 1.
`LwaUsageError` is a wrong command line (unknown layer, bad option value): exit code 2.
Anything else is a bug and shows a traceback with ``--debug``.

An error about an argument names the API *parameter* (``kmeans='x' is not one of …``) and
records it in `params`; the CLI rewrites those names into its flags (``--kmeans x``), so the
same message reads right in Python and on the command line.
"""

import difflib
from collections.abc import Iterable


class LwaError(Exception):
    """A failure with a message that says what went wrong and what to do.

    `params` are the API parameters the message names (as ``name=value`` or ``name``).
    """

    exit_code = 1

    def __init__(self, *args: object, params: tuple[str, ...] = ()) -> None:
        super().__init__(*args)
        self.params = tuple(params)


class LwaUsageError(LwaError):
    """The command line asks for something that cannot be: wrong value, range or name."""

    exit_code = 2


def param_error(param: str, value: object, problem: str, *, also: tuple[str, ...] = (),
                cls: type[LwaError] = LwaUsageError) -> LwaError:
    """An error about one argument, sklearn style: ``param=value problem``.

    ``param_error("kmeans", "x", "is not one of sklearn, faiss")`` reads
    ``kmeans='x' is not one of sklearn, faiss``; `also` lists other parameters that
    `problem` names, so that the CLI can rewrite them too.
    """
    return cls(f"{param}={value!r} {problem}", params=(param, *also))


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean X?)`` for a near miss among `choices`, else an empty string."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""
