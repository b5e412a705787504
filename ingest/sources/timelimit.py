"""A per-file time limit for parsing, so one huge or pathological file cannot stall an ingest.

Parsers that loop (the PDF reader, page by page) call :func:`check`; a backstop stops parsers
that do not: a SIGALRM timer in the main thread (the CLI), and in any other thread (an ingest
started from the page) a watchdog timer that raises the same error inside the parsing thread
(``PyThreadState_SetAsyncExc``, which like a signal handler acts between Python bytecodes).
Either way the file fails with
:class:`~ingest.core.errors.ItemError` ``("timed out", ...)``, which the report counts like any other
per-file failure.
"""

from __future__ import annotations

import ctypes
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
    watchdog = None if alarm else _Watchdog(seconds)
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
        if watchdog is not None:
            watchdog.stop()
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        _local.deadline = None


class _Watchdog:
    """Raises the time-limit error in the thread that created it, ``seconds`` (plus a grace
    period for the cooperative check) later, unless stopped first."""

    def __init__(self, seconds: float) -> None:
        message = _error(seconds)

        class TimedOut(ItemError):
            def __init__(self) -> None:
                super().__init__(message.reason, message.detail)

        self._exc = TimedOut
        self._target = threading.get_ident()
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(seconds + 2, self._ring)
        self._timer.daemon = True
        self._timer.start()

    def _ring(self) -> None:
        with self._lock:
            if not self._done:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self._target), ctypes.py_object(self._exc)
                )

    def stop(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()


def check(progress: str = "") -> None:
    """Raise ItemError('timed out') when the current file's time is up."""
    deadline = getattr(_local, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise _error(_local.seconds, progress)
