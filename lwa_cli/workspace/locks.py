"""Advisory locks on workspace artefacts: one writer per artefact, readers kept apart from it.

Each artefact ``dir/name`` has a lock file ``dir/.name.lock``. A writer holds an exclusive
``flock`` on it for as long as it writes (the pid of the holder is written into the file for
the error message); a reader that must not see the artefact replaced under it (an extraction
reading its sample) holds a shared lock. The kernel releases the locks when the process exits,
however it exits, so a killed run never leaves a stale lock; the small lock files stay.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lwa_cli.errors import LwaError


class ArtefactBusyError(LwaError):
    """Another lwa process holds the artefact (writes it, or reads what we want to replace)."""


def lock_path(path: Path) -> Path:
    """The lock file of an artefact (hidden, next to it)."""
    return path.parent / f".{path.name}.lock"


def _holder(lock: Path) -> str:
    try:
        pid = lock.read_text().strip()
    except OSError:
        pid = ""
    return f" (pid {pid})" if pid.isdigit() else ""


@contextmanager
def _locked(path: Path, *, shared: bool, wait: bool, what: str) -> Iterator[None]:
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            doing = "written" if not shared else "replaced or written"
            raise ArtefactBusyError(
                f"{what} {path} is in use by another lwa process{_holder(lock)}: it cannot be "
                f"{doing} now; wait for that process or rerun with --wait") from None
        if not shared:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def write_lock(path: Path, *, wait: bool = False, what: str = "workspace file"):
    """Hold the artefact for writing: a second writer (or a reader holding it) is refused."""
    return _locked(path, shared=False, wait=wait, what=what)


def read_lock(path: Path, *, wait: bool = False, what: str = "workspace file"):
    """Hold the artefact for reading: writers are refused until it is released."""
    return _locked(path, shared=True, wait=wait, what=what)


def is_locked(path: Path) -> bool:
    """Whether some process holds a lock on the artefact (for `lwa status`)."""
    lock = lock_path(path)
    if not lock.is_file():
        return False
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def writer_pid(path: Path) -> int | None:
    """The pid of the process holding the artefact for writing, None when no writer holds it
    (free, or held by readers only)."""
    lock = lock_path(path)
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:  # an exclusive holder: a writer, which wrote its pid
            pid = _holder(lock).strip(" ()").removeprefix("pid ")
            return int(pid) if pid.isdigit() else None
        return None
    finally:
        os.close(fd)
