"""Hugging Face hub ids as checkpoints: ``--checkpoint org/name[@revision]``.

A checkpoint that is not an existing path but looks like a hub id is resolved in the local
Hugging Face cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
``~/.cache/huggingface/hub``; layout ``models--org--name/refs/<revision>`` holding a commit
hash and ``snapshots/<commit>/`` holding the files) with `huggingface_hub.snapshot_download`
offline. Only with ``download=True`` (``--download``) may it fetch the model; nothing else in
lwa does. The snapshot's commit hash is part of the weights' fingerprint and of the
checkpoint recorded in feature files (``org/name@<commit>``).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from lwa_cli.errors import LwaError

_HUB_ID = re.compile(r"(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<rev>[\w./-]+))?")


@dataclass(frozen=True)
class HubCheckpoint:
    """A hub id resolved to its local snapshot.

    Attributes
    ----------
    repo : ``org/name``.
    revision : what was asked for (``main`` when nothing was).
    commit : the snapshot's commit hash.
    path : the snapshot directory.
    """

    repo: str
    revision: str
    commit: str
    path: Path

    @property
    def label(self) -> str:
        """``org/name@<commit>``: the checkpoint as feature files record it."""
        return f"{self.repo}@{self.commit}"


def parse_hub_id(text: str) -> tuple[str, str | None] | None:
    """``(repo, revision)`` of ``org/name[@revision]``, or None when ``text`` is not one."""
    match = _HUB_ID.fullmatch(str(text))
    if match is None or ".." in match.group("repo"):
        return None
    return match.group("repo"), match.group("rev")


def cache_dir() -> Path:
    """The hub cache directory, read from the environment at call time."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join("~", ".cache", "huggingface")
    return Path(home).expanduser() / "hub"


def download_command(repo: str, revision: str | None) -> str:
    """The shell command that puts ``repo`` into the cache."""
    rev = f" --revision {revision}" if revision else ""
    return f"hf download {repo}{rev}"


def resolve_hub_id(text: str, *, download: bool = False) -> HubCheckpoint:
    """The local snapshot of a hub id (fetched first only when ``download``).

    Raises
    ------
    LwaError : not a hub id, or (one line) not in the cache, naming the download command.
    """
    parsed = parse_hub_id(text)
    if parsed is None:
        raise LwaError(f"checkpoint {text} does not exist and is not a hub id (org/name"
                       "[@revision]); check --checkpoint.")
    repo, revision = parsed
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        path = Path(snapshot_download(repo, revision=revision, cache_dir=str(cache_dir()),
                                      local_files_only=not download))
    except LocalEntryNotFoundError:
        raise LwaError(f"checkpoint {text} does not exist as a path and is not in the Hugging "
                       f"Face cache {cache_dir()}; fetch it with "
                       f"`{download_command(repo, revision)}` or pass --download.") from None
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise LwaError(f"cannot download {text}: {type(exc).__name__}: {exc}") from None
    return HubCheckpoint(repo=repo, revision=revision or "main", commit=path.name, path=path)


def resolve_checkpoint(checkpoint: Path | str, *, download: bool = False
                       ) -> tuple[Path, HubCheckpoint | None]:
    """An existing path as is; otherwise a hub id's snapshot (see `resolve_hub_id`)."""
    path = Path(checkpoint).expanduser()
    if path.exists():
        return path, None
    hub = resolve_hub_id(str(checkpoint), download=download)
    return hub.path, hub


def hub_fingerprint(hub: HubCheckpoint, files_fingerprint: str) -> str:
    """The weights' fingerprint with the snapshot's repo and commit hash in it."""
    text = f"hub:{hub.repo}@{hub.commit}\n{files_fingerprint}"
    return hashlib.sha256(text.encode()).hexdigest()


def checkpoint_fingerprint(checkpoint: Path | str) -> str:
    """The fingerprint `load_model` gives the trained weights at a path or hub id."""
    from lwa_cli.models.fingerprints import checkpoint_fingerprint as files

    path, hub = resolve_checkpoint(checkpoint)
    return files(path) if hub is None else hub_fingerprint(hub, files(path))
