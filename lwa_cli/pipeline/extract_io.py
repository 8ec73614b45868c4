"""Overlapped I/O for `lwa extract`: audio is read ahead and rows are written behind.

The forward pass is the only step that must run on the main thread's critical path. With
``overlap=True``:

* `read_ahead` decodes/resamples the next utterances in a background thread and hands them
  over through a bounded queue (``depth`` utterances: memory stays flat);
* `WriteBehind` turns each utterance's captured layers into rows (pooling, local
  alignment) and appends them to the feature file in ONE writer thread, fed through a
  bounded queue. Every HDF5 call of the run happens either in the main thread before that
  thread starts (opening, resuming) or after it has been joined (finish, close), or in
  the writer thread itself, so accesses to the file are serialised.

An exception in either thread (an unreadable audio file, a full disk) is re-raised in the
main thread unchanged (same type, same message); an interruption of the main thread
(Ctrl-C) stops the reader and lets the writer finish the utterances already computed, so
the partial file keeps them and a rerun resumes after them. With ``overlap=False`` the
same steps run inline, in the same order: the files are bit-identical either way.

`overlap_pays` is the default: the two threads only save time when they have a core of
their own (a GPU run, or a CPU with cores beyond torch's threads). Where torch's threads
take every core, they take CPU time from the forward pass and stall its parallel regions:
base-size random wav2vec 2.0 on 2 s utterances, 2 cores, went from 1.06× a bare
transformers loop inline to 1.17× overlapped.
"""

from __future__ import annotations

import ctypes
import functools
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

_STOP = object()  # end of stream marker in both queues
_POLL_S = 0.1  # how often a blocked put/get looks at the other side's state


def overlap_pays(device_type: str, torch_threads: int) -> bool:
    """Whether reading ahead and writing behind in threads can save time (see module doc)."""
    if device_type != "cpu":
        return True
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) > torch_threads


def resident_bytes() -> int | None:
    """This process's resident memory now (Linux ``/proc/self/statm``), or None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


# glibc's mallopt parameters (<malloc.h>).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def retain_freed_memory(limit: int = 2**30) -> bool:
    """Let glibc keep memory freed by a forward pass for the next one (process-wide).

    By default glibc serves blocks above a (dynamic, at most 32 MiB) threshold with fresh
    mmaps and returns the top of its heap to the kernel once 2x that is free, so every
    forward pass faults its activations in anew: ~9,500 page faults and 10% of the forward
    time of a 2 s utterance through a base-size wav2vec 2.0 on 2 CPU cores (160 vs 178 ms).
    Raising both thresholds to `limit` keeps the freed pages for the next utterance;
    `MemoryTrim` bounds how far that lets memory grow. It changes the whole process, so the
    `lwa extract` command calls it (the process is its own), the library functions do not.
    Returns False where the C library is not glibc (nothing changed).
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, limit)) and bool(mallopt(_M_TRIM_THRESHOLD, limit))


class MemoryTrim:
    """glibc's malloc_trim when resident memory has grown by `slack` bytes beyond its level
    after the first utterance, or after the first utterance since the last trim (a no-op
    without glibc).

    Utterances of different lengths leave torch's freed activations fragmented in glibc's
    heaps: a bare transformers loop over 48 demo utterances (2-5 s) grows from 0.9 to 1.9 GB
    with base-size wav2vec 2.0, and plateaus at ~2.5 GB only after ~150. A trim returns the
    free pages, and the next forward pass faults its working set back in (~0.1-0.2 s for
    base size, plus the trim's own 10-15 ms), so trims must be rare: the level they are
    measured from is taken after an utterance (model and one working set resident), never
    right after a trim, so a working set larger than `slack` cannot trigger a trim per
    utterance. Without /proc, trims run at most once a minute.
    """

    def __init__(self, slack: int = 2**30) -> None:
        self.slack = slack
        self.floor: int | None = None  # RSS after the first utterance since the last trim
        self.last = time.perf_counter()
        try:
            self._trim = functools.partial(ctypes.CDLL("libc.so.6").malloc_trim, 0)
        except (OSError, AttributeError):
            self._trim = None

    def __call__(self) -> None:
        if self._trim is None:
            return
        rss = resident_bytes()
        if rss is None:  # no /proc: fall back on time
            if time.perf_counter() - self.last >= 60.0:
                self._trim()
                self.last = time.perf_counter()
            return
        if self.floor is None:
            self.floor = rss
        elif rss - self.floor > self.slack:
            self._trim()
            self.floor = None  # measured again after the next utterance


class _Failure:
    """An exception raised in the reader thread, carried to the consumer."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def read_ahead(units: Sequence[int], load: Callable[[int], np.ndarray], *,
               overlap: bool = True, depth: int = 2) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(unit, load(unit))`` in order, loading up to `depth` units ahead in a thread.

    An exception raised by `load` is re-raised here, at the unit it failed on, after the
    units before it were yielded. Closing the generator early (an exception in the
    consumer, Ctrl-C) stops the thread.
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    if not overlap:
        for unit in units:
            yield unit, load(unit)
        return
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for unit in units:
                if not put((unit, load(unit))):
                    return
        except BaseException as exc:  # noqa: BLE001 - carried to the consumer
            put(_Failure(exc))
            return
        put(_STOP)

    thread = threading.Thread(target=work, name="lwa-audio-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _STOP:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


class WriteBehind:
    """Run ``handle(*item)`` for each submitted item, in order, in one writer thread.

    `handle` does the pooling and the HDF5 append of one utterance. `submit` blocks while
    `depth` items wait; it re-raises an exception the writer hit (the writer then stops
    taking items). `close` waits for the items already submitted (unless the writer
    failed) and re-raises the writer's exception, if any. Use as a context manager: on an
    exception in the body the items already submitted are still written, so the partial
    file keeps every utterance whose forward pass finished.
    """

    def __init__(self, handle: Callable[..., None], *, overlap: bool = True,
                 depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._handle = handle
        self._overlap = overlap
        self._error: BaseException | None = None
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._thread: threading.Thread | None = None
        if overlap:
            self._thread = threading.Thread(target=self._work, name="lwa-feature-writer",
                                            daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._q.get()
            if item is _STOP:
                return
            if self._error is not None:
                continue  # failed: drain without writing until told to stop
            try:
                self._handle(*item)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                self._error = exc

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, *item: Any) -> None:
        """Queue one item (inline when not overlapping); raise the writer's error."""
        if not self._overlap:
            self._handle(*item)
            return
        while True:
            self._raise_if_failed()
            try:
                self._q.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Write what was submitted, stop the thread, and raise the writer's error if any."""
        if self._thread is not None:
            while self._thread.is_alive():
                try:
                    self._q.put(_STOP, timeout=_POLL_S)
                    break
                except queue.Full:
                    continue
            self._thread.join()
            self._thread = None
        self._raise_if_failed()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            return
        try:  # keep the body's exception; the writer's (if any) is secondary
            self.close()
        except BaseException:  # noqa: BLE001, S110
            pass
