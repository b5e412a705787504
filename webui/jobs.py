"""Ingest runs started from the page, in a background thread so the page stays usable, and the
page's "keep in sync" watcher (``ingest/watch.py`` in a thread).

One :class:`IngestJobs` registry per server process (the page keeps it in ``st.cache_resource``)
holds at most one running job per store; every browser session sees its progress and report.
Uploaded files are saved in ``<store>-uploads/`` beside the store (owner-only, like the store;
ingest never reads inside the store folder itself) and ingested from there.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.core.errors import IngestBusyError, PdqError
from ingest.pipeline import IngestProgress

logger = logging.getLogger(__name__)


@dataclass
class IngestJob:
    paths: list[str]
    started: float = field(default_factory=time.time)
    progress: IngestProgress | None = None  # the latest event of the run
    report: Any = None  # IngestReport when done
    error: str = ""
    finished: float = 0.0
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return not self.finished

    @property
    def fraction(self) -> float:
        """Of the current phase: files read (phase 1), then items embedded (phase 2)."""
        p = self.progress
        if p and p.phase == "embed":
            return min(1.0, p.embedded_items / p.total_items) if p.total_items else 1.0
        return min(1.0, p.files_done / p.files_total) if p and p.files_total else 0.0

    def describe(self) -> str:
        p = self.progress
        if not p:
            return "Looking for files…"
        if p.phase == "embed":
            return (
                f"2/2 semantic index: {p.embedded_items:,} of {p.total_items:,} items, newest "
                "first · everything is already searchable by keyword"
            )
        current = p.current
        return f"1/2 reading: {p.files_done} of {p.files_total or '?'} files · {p.items} items" + (
            f" · {current.rsplit('/', 1)[-1]}" if current else ""
        )


class IngestJobs:
    """The ingest jobs of one server process, by store directory."""

    def __init__(self) -> None:
        self._jobs: dict[str, IngestJob] = {}
        self._lock = threading.Lock()

    def current(self, store: Path) -> IngestJob | None:
        return self._jobs.get(str(store))

    def start(self, assistant: Any, paths: list[str | Path]) -> IngestJob:
        """Start ingesting ``paths`` with ``assistant`` (raises PdqError if one is running)."""
        key = str(assistant.settings.store)
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.running:
                raise IngestBusyError(
                    "an ingest is already running for this store; wait for it to finish"
                )
            job = IngestJob([str(p) for p in paths])
            self._jobs[key] = job

        def run() -> None:
            try:
                job.report = assistant.ingest(
                    paths, progress=lambda ev: setattr(job, "progress", ev)
                )
            except PdqError as exc:
                job.error = str(exc)
            except Exception as exc:  # a bug, not the user's mistake: keep the page alive, log it
                logger.exception("ingest from the page failed")
                job.error = f"ingest failed: {type(exc).__name__}: {exc}"
            finally:
                job.finished = time.time()

        job.thread = threading.Thread(target=run, name="pdq-ingest", daemon=True)
        job.thread.start()
        return job


@dataclass
class Watcher:
    """A ``pdq watch`` running for the page ("keep in sync"): its thread, its stop switch and
    what its last sync did."""

    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = field(default=None, repr=False)
    last: str = ""  # "+1 new, 0 updated, -0 removed at 14:02"
    error: str = ""

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class Watchers:
    """The page's watchers, one per store (kept in ``st.cache_resource``: one per server)."""

    def __init__(self) -> None:
        self._by_store: dict[str, Watcher] = {}
        self._lock = threading.Lock()

    def get(self, store: Path) -> Watcher | None:
        return self._by_store.get(str(store))

    def start(self, assistant: Any) -> Watcher:
        from ingest.watch import watch

        key = str(assistant.settings.store)
        with self._lock:
            w = self._by_store.get(key)
            if w is not None and w.running:
                return w
            w = Watcher()
            self._by_store[key] = w

        def said(report: Any) -> None:
            what = report.changes() or "+0 new, 0 updated, -0 removed"
            w.last = f"{what} at {time.strftime('%H:%M:%S')}"

        def run() -> None:
            try:
                watch(assistant.settings, embedder=assistant.embedder, stop=w.stop, on_sync=said)
            except PdqError as exc:
                w.error = str(exc)
            except Exception as exc:  # keep the page alive, log it
                logger.exception("keeping the store in sync failed")
                w.error = f"sync stopped: {type(exc).__name__}: {exc}"

        w.thread = threading.Thread(target=run, name="pdq-watch", daemon=True)
        w.thread.start()
        return w

    def stop(self, store: Path) -> None:
        w = self._by_store.get(str(store))
        if w is not None:
            w.stop.set()


def uploads_dir(store: Path) -> Path:
    store = Path(store).expanduser().resolve()
    return store.with_name(store.name + "-uploads")


def save_uploads(store: Path, files: list[tuple[str, bytes]]) -> list[Path]:
    """Write uploaded files to :func:`uploads_dir` (names stripped of any folder part)."""
    folder = uploads_dir(store)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    saved: list[Path] = []
    for name, data in files:
        safe = Path(name.replace("\\", "/")).name.strip() or "upload"
        if safe in (".", ".."):
            safe = "upload"
        target = folder / safe
        target.write_bytes(data)
        os.chmod(target, 0o600)
        saved.append(target)
    return saved
