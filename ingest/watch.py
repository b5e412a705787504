"""``pdq watch``: follow the folders a store was given and sync what changes, as it changes.

Filesystem events (watchdog: inotify on Linux, FSEvents on macOS; its polling observer where
those are unavailable, or when asked) on every root the store remembers are collected and
debounced (a mail client writing a message touches tmp/, new/ and cur/ within milliseconds); then
only the paths that changed are synced (``pipeline.sync_changed``: no walk of the rest of the
root), so one new message in a big Maildir costs that message's parsing and embedding, and the
keyword index catches up with just that message (ingest/store/keyword_delta.py). A message
deleted in the mail client (moved away, the Maildir T flag, an mbox message marked deleted) is
removed from the store by the same sync. Ctrl-C stops between syncs or inside one, leaving the
store consistent (ingest is journaled).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest.core.errors import IngestError
from ingest.core.settings import Settings
from ingest.embedding import Embedder
from ingest.report import IngestReport

logger = logging.getLogger(__name__)


class _Changes:
    """Paths touched since the last sync, and when the last one was (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.paths: set[str] = set()
        self.last = 0.0

    def add(self, path: str) -> None:
        with self._lock:
            self.paths.add(path)
            self.last = time.monotonic()

    def take_if_quiet(self, quiet: float) -> set[str]:
        with self._lock:
            if not self.paths or time.monotonic() - self.last < quiet:
                return set()
            out, self.paths = self.paths, set()
            return out


def _observe(roots: list[Path], store_dir: Path, changes: _Changes, polling: bool) -> Any:
    """A started watchdog observer that records every change under ``roots`` (not the store's
    own files); the polling observer when asked or when events are unavailable."""
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer
    from watchdog.observers.polling import PollingObserver

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.event_type in ("opened", "closed_no_write"):
                return
            if event.is_directory and event.event_type in ("modified", "closed"):
                return  # a folder "modified" because a file in it changed: that file says so
            for p in (event.src_path, getattr(event, "dest_path", "")):
                if p and not Path(str(p)).is_relative_to(store_dir):
                    changes.add(str(p))

    def started(observer: Any) -> Any:
        for root in roots:
            if root.exists():
                folder = root if root.is_dir() else root.parent
                observer.schedule(Handler(), str(folder), recursive=True)
        observer.start()
        return observer

    if polling:
        return started(PollingObserver(timeout=1.0))
    try:
        return started(Observer())
    except OSError as exc:  # e.g. the inotify watch limit
        logger.warning("filesystem events unavailable (%s); polling instead", exc)
        return started(PollingObserver(timeout=1.0))


def watch(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    debounce: float = 1.0,
    polling: bool = False,
    stop: threading.Event | None = None,
    on_sync: Callable[[IngestReport], None] | None = None,
    ready: threading.Event | None = None,
) -> None:
    """Watch the store's roots until ``stop`` is set (or Ctrl-C); after each burst of changes,
    sync the roots that changed and hand the report to ``on_sync``."""
    from ingest.embedding import make_embedder
    from ingest.pipeline import open_existing, sync_changed, sync_roots

    store_dir = settings.store.expanduser().resolve()
    store = open_existing(settings)
    try:
        roots = [Path(r) for r in store.manifest.root_paths()]
    finally:
        store.close()
    if not roots:
        raise IngestError("nothing to watch: no folder was ingested into this store yet")
    embedder = embedder or make_embedder(settings)
    changes = _Changes()

    observer = _observe(roots, store_dir, changes, polling)
    if ready is not None:
        ready.set()
    stop = stop or threading.Event()
    try:
        report = sync_roots(settings, embedder=embedder)  # catch up on what changed while away
        if on_sync:
            on_sync(report)
        while not stop.wait(0.2):
            touched = changes.take_if_quiet(debounce)
            if not touched:
                continue
            inside = [p for p in touched if any(Path(p).is_relative_to(r) for r in roots)]
            if inside:
                report = sync_changed(inside, settings, embedder=embedder)
                if on_sync:
                    on_sync(report)
    finally:
        observer.stop()
        observer.join(timeout=5)
