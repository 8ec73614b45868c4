"""Shell completion details typer leaves out: fish completes paths where an option takes one.

Typer's fish script turns file completion off (``--no-files``) whenever lwa proposes
anything, and a path option (``--checkpoint``, ``--corpus``) "proposes" the text typed so
far, so fish completed no paths at all. `LwaFishComplete` proposes nothing for a path
option: the script's condition fails and fish completes files and directories itself.
"""

from __future__ import annotations

import os
import sys

from typer._click.shell_completion import add_completion_class
from typer._completion_classes import FishComplete

_PATH_TYPES = ("file", "dir", "path")


class LwaFishComplete(FishComplete):
    """Typer's fish completion, leaving path values to fish."""

    def complete(self) -> str:
        action = os.getenv("_TYPER_COMPLETE_FISH_ACTION", "")
        args, incomplete = self.get_completion_args()
        items = [item for item in self.get_completions(args, incomplete)
                 if item.type not in _PATH_TYPES]
        if action == "is-args":
            sys.exit(0 if items else 1)  # 1: fish completes files itself
        return "\n".join(self.format_completion(item) for item in items)


def register() -> None:
    """Use `LwaFishComplete` for fish (called as completion starts, after typer's own)."""
    add_completion_class(LwaFishComplete, "fish")
