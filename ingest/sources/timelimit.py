"""A per-file time limit for parsing, so one huge or pathological file cannot stall an ingest.

Parsers that loop (the PDF reader, page by page) call :func:`check`; in the main thread a
SIGALRM timer is the backstop for parsers that do not. Either way the file fails with
:class:`~ingest.core.errors.ItemError` ``("timed out", ...)``, which the report counts like any other
per-file failure.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ingest.core.errors import ItemError

_local = threading.local()


def _error(seconds: float, progress: str = "") -> ItemError:
    return ItemError(
        "timed out",
        f"parsing took longer than the {seconds:g}s per-file limit{progress} "
        "(max_file_seconds, PDQ_MAX_FILE_SECONDS)",
    )


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Limit the parsing done inside the block to ``seconds`` (0: no limit)."""
    if not seconds or seconds <= 0:
        yield
        return
    _local.deadline, _local.seconds = time.monotonic() + seconds, seconds
    alarm = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    old = None
    if alarm:

        def _ring(signum: int, frame: object) -> None:
            raise _error(seconds)

        old = signal.signal(signal.SIGALRM, _ring)
        signal.setitimer(
            signal.ITIMER_REAL, seconds + 2
        )  # a grace period for the cooperative check
    try:
        yield
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        _local.deadline = None


def check(progress: str = "") -> None:
    """Raise ItemError('timed out') when the current file's time is up."""
    deadline = getattr(_local, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise _error(_local.seconds, progress)
