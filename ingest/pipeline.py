"""The ingest run: walk, skip what is unchanged, parse, chunk, write, delete what is gone; then embed.

Two phases, so a person can ask within a minute of pointing pdq at a large mailbox:

1. **read** — every source is parsed, chunked and written (text, metadata, a placeholder vector)
   in committed rounds, and the BM25 index is rebuilt: everything is keyword-searchable, listed
   and dated at parse speed (questions asked mid-way see the rounds already committed);
2. **embed** — ``ingest/semantic_index.py`` gives the chunks their real vectors, newest items
   first, in committed rounds; dense search covers what is done so far.

:func:`ingest_paths` is the library call under ``pdq ingest`` and ``Assistant.ingest``.

Incremental and exact:
- a file whose size and mtime match the manifest is not opened;
- a changed file is parsed again, but only items whose content hash changed are embedded;
- an mbox that only grew is read from where the last run stopped;
- items whose source (file, or message inside an mbox) is gone are deleted.

Crash-safe: a run killed in phase 2 resumes it on the next run. Chunks are written only for items first recorded in the manifest's ``pending``
journal; a source's new size/mtime is recorded only after all its items are stored. A run
killed at any point leaves a journal the next run uses to remove half-written items and
re-read their sources, so nothing is lost or duplicated.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.chunking import Chunker, chunker_signature, keep_store_chunking
from ingest.core.errors import IngestError, PdqError, StoreError
from ingest.core.settings import Settings
from ingest.embedding import Embedder, make_embedder
from ingest.items import Item, Problem
from ingest.report import Failure, IngestReport
from ingest.semantic_index import embed_waiting
from ingest.sources.discovery import SourceFile, source_at, walk
from ingest.sources.mentions import mentioned_days
from ingest.sources.readers import read_source
from ingest.store import Store, StoreLock, prepare_dir, recorded_chunker
from ingest.store.manifest import SourceState
from ingest.writer import Link, PendingSource, Writer, repair

logger = logging.getLogger(__name__)

FLUSH_CHUNKS = 256  # chunks gathered before one embed + write round
MENTION_KINDS = ("email", "attachment", "note", "document")  # text that can announce a day


@dataclass(frozen=True)
class IngestProgress:
    """Where a running ingest is, sent to ``progress`` after each file and each write round."""

    files_done: int = 0  # parsed or skipped as unchanged
    files_total: int = 0
    items: int = 0  # new, updated and unchanged so far
    chunks: int = 0  # embedded so far
    current: str = ""  # the file just read
    phase: str = "read"  # "read" (parse, store, keyword index) or "embed" (vectors, newest first)
    embedded_items: int = 0  # phase 2: items with their vectors, of...
    total_items: int = 0  # ...all items in the store


Progress = Callable[[IngestProgress], None]


def _tail_hash(path: Path, end: int) -> str:
    with path.open("rb") as f:
        f.seek(max(0, end - 4096))
        return hashlib.sha256(f.read(end - max(0, end - 4096))).hexdigest()


class _Run:
    """One ingest run's reading side: sources are parsed, their items gathered into rounds of
    about :data:`FLUSH_CHUNKS` chunks and handed to the :class:`~ingest.writer.Writer`."""

    def __init__(
        self,
        settings: Settings,
        store: Store | None,
        embedder: Embedder,
        report: IngestReport,
        progress: Progress | None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.report = report
        self.progress = progress
        self._chunker: Chunker | None = None
        self.batch: dict[str, Item] = {}
        self.batch_links: list[Link] = []
        self.batch_chunks = 0
        self.finished: list[PendingSource] = []
        self.files_total = 0
        self.flush_seconds = 0.0  # time spent in flush(), kept out of the parse timing
        # None in a dry run: nothing is written
        self.writer = Writer(store, lambda: self.chunker, report) if store is not None else None

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            s = self.settings
            self._chunker = Chunker(
                self.embedder.tokenizer,
                s.chunk_tokens,
                s.chunk_overlap,
                self.embedder.max_seq_length,
            )
        return self._chunker

    def tick(self, current: str = "", embedded: tuple[int, int] | None = None) -> None:
        if self.progress:
            r = self.report
            self.progress(
                IngestProgress(
                    files_done=r.files_parsed + r.files_skipped_unchanged,
                    files_total=self.files_total,
                    items=sum(r.totals[c] for c in ("new", "updated", "unchanged")),
                    chunks=r.chunks_embedded,
                    current=current,
                    phase="embed" if embedded else "read",
                    embedded_items=embedded[0] if embedded else 0,
                    total_items=embedded[1] if embedded else 0,
                )
            )

    # --- problems -----------------------------------------------------------------------------
    def problem(self, p: Problem) -> None:
        f = Failure(p.locator, p.reason, p.detail)
        (self.report.unsupported if p.unsupported else self.report.failures).append(f)

    # --- one source -----------------------------------------------------------------------------
    def ingest_source(self, src: SourceFile, known: SourceState | None) -> None:
        t0 = time.perf_counter()
        flushed_before = self.flush_seconds
        stat = src.path.stat()
        state = SourceState(
            str(src.path), src.kind, stat.st_size, stat.st_mtime_ns, stat.st_size, None, 0
        )
        start = 0
        links_before: set[tuple[str, str]] | None = None
        if self.store is not None:
            links_before = self.store.manifest.links_of_source(state.path)
        if src.kind == "mbox":
            try:
                state.tail_hash = _tail_hash(src.path, stat.st_size)
            except OSError as exc:  # the user's file, not the store: a per-file failure
                self.problem(Problem(state.path, "unreadable", exc.strerror or str(exc)))
                state.failed = "unreadable"
                # recorded as failed (retried by the next sync), its stored items kept
                self.finished.append(PendingSource(state, None))
                return
            if (
                known
                and self.store is not None
                and known.kind == "mbox"
                and stat.st_size > known.size
                and known.read_to == known.size
                and known.tail_hash == _tail_hash(src.path, known.size)
                and _starts_message(src.path, known.size)
            ):
                start = known.size
                links_before = None  # append: everything read before stays
        pending = PendingSource(state, links_before)
        got_items = False
        for result in read_source(src, self.settings, start=start):
            for p in result.problems:
                self.problem(p)
                state.problems += 1
                if not p.unsupported and not state.failed:
                    state.failed = p.reason
            got_items = got_items or bool(result.items)
            for item in result.items:
                locator = str(item.meta.get("locator") or state.path)
                folder = src.folder if item.kind in ("email", "attachment") else ""
                pending.links_now.add((item.item_id, locator))
                self.add(item, state.path, locator, folder)
            if self.batch_chunks >= FLUSH_CHUNKS:
                self.flush()
        if got_items:
            state.failed = ""  # a message of an mbox failed, not the file: no need to retry
        self.report.files_parsed += 1
        self.report.timings["parse"] += (
            time.perf_counter() - t0 - (self.flush_seconds - flushed_before)
        )
        self.finished.append(pending)
        self.tick(state.path)

    def add(self, item: Item, source: str, locator: str, folder: str) -> None:
        self.batch_links.append((item.item_id, source, locator, folder))
        self.report.count(item.kind, "found")
        if item.item_id in self.batch:
            self.report.count(
                item.kind, "unchanged"
            )  # the same item again (e.g. mail in 2 folders)
            return
        if folder:
            item.meta["folder"] = folder
        if item.kind in MENTION_KINDS:
            days = mentioned_days(
                " ".join(b.text for b in item.blocks), item.meta.get("date"), self.settings.timezone
            )
            item.meta["mentions"] = " ".join(d.isoformat() for d in days) or None
        self.batch[item.item_id] = item
        self.batch_chunks += max(1, len(item.blocks))

    # --- embed and write --------------------------------------------------------------------------
    def flush(self) -> None:
        t_flush = time.perf_counter()
        try:
            self._flush()
        finally:
            self.flush_seconds += time.perf_counter() - t_flush

    def _flush(self) -> None:
        items = list(self.batch.values())
        links = self.batch_links
        self.batch, self.batch_links, self.batch_chunks = {}, [], 0
        if self.writer is None:  # dry run: chunk only
            t0 = time.perf_counter()
            for it in items:
                self.report.count(it.kind, "new")
                self.report.chunks_planned += len(self.chunker.chunk_item(it))
            self.report.timings["chunk"] += time.perf_counter() - t0
            self.finished.clear()
            return
        self.writer.write(items, links)
        self.writer.finish_sources(self.finished)
        self.tick()


def _starts_message(path: Path, offset: int) -> bool:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read(5) == b"From "


_WRITE_FAILURES = re.compile(
    r"disk is full|no space left|file too large|read-?only|quota|errno 28|errno 27|"
    r"disk i/o error",
    re.IGNORECASE,
)


def _write_failure(exc: BaseException | None) -> bool:
    """Is this (or what caused it) a failed write: a full disk, a size limit, a read-only file?"""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in (
            errno.ENOSPC,
            errno.EFBIG,
            errno.EROFS,
            errno.EDQUOT,
            errno.EACCES,
        ):
            return True
        if _WRITE_FAILURES.search(str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def sync_keyword_index(store: Store) -> None:
    """Rebuild the BM25 index when the store changed since it was built (or it is missing)."""
    from ingest.store import keyword_index

    generation = store.generation()
    if not generation:
        generation = uuid.uuid4().hex
        store.set_generation(generation)
    keyword_index.ensure_current(store.path, store, generation)


def ingest_paths(
    paths: Iterable[str | Path],
    settings: Settings,
    *,
    rebuild: bool = False,
    dry_run: bool = False,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest files and folders into the store named by ``settings.store``.

    Per-item problems are reported, never raised. Raises :class:`IngestError` for a path that
    does not exist and :class:`~ingest.core.errors.StoreError` for an unusable or mismatched store.
    """
    from ingest.core.privacy import apply_offline_env

    apply_offline_env()
    t_start = time.perf_counter()
    roots = _roots(paths)
    embedder = embedder or make_embedder(settings)
    store_dir = settings.store.expanduser().resolve()
    report = IngestReport(store=str(store_dir), dry_run=dry_run)
    if dry_run:  # chunk counts as an ingest into this store would make them
        settings = keep_store_chunking(settings, recorded_chunker(store_dir))
        _run_sources(_Run(settings, None, embedder, report, progress), roots, store_dir, {})
        _note_ocr(settings, report)
        report.seconds = time.perf_counter() - t_start
        return report
    prepare_dir(store_dir)

    def run_roots(run: _Run, store: Store) -> None:
        _run_sources(run, roots, store_dir, store.manifest.sources_under(roots))
        _record_roots(store, roots)

    return _in_store(
        settings, embedder, report, t_start, run_roots, rebuild=rebuild, progress=progress
    )


def sync_changed(
    paths: Iterable[str | Path],
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Sync only ``paths``: files and folders under the store's recorded roots that a watcher
    saw created, changed, moved or deleted. Nothing else of their roots is walked or looked at,
    so one new mail in a 50,000-message Maildir costs that message's work (plus the keyword
    index). A path whose root is gone (an unplugged drive) is left alone, as `pdq sync` does."""
    from ingest.core.privacy import apply_offline_env

    apply_offline_env()
    t_start = time.perf_counter()
    store_dir = _existing_dir(settings)
    embedder = embedder or make_embedder(settings)
    report = IngestReport(store=str(store_dir))
    targets = sorted({Path(os.path.abspath(Path(p).expanduser())) for p in paths})

    def run_changed(run: _Run, store: Store) -> None:
        roots = [Path(r) for r in store.manifest.root_paths()]
        found: list[SourceFile] = []
        inside: list[Path] = []
        for path in targets:
            under = [r for r in roots if path.is_relative_to(r) and r.exists()]
            if not under:
                continue
            root = max(under, key=lambda r: len(r.parts))  # the innermost recorded root
            inside.append(path)
            if path.is_dir():  # a folder created or moved in: what it holds
                for dirpath, _dirs, files in os.walk(path):
                    found += filter(None, (source_at(Path(dirpath) / f, root) for f in files))
            else:
                found += filter(None, [source_at(path, root)])
        known = store.manifest.sources_under(inside) if inside else {}
        _process(run, _kept(run, found, store_dir), known)

    return _in_store(settings, embedder, report, t_start, run_changed, progress=progress)


def _in_store(
    settings: Settings,
    embedder: Embedder,
    report: IngestReport,
    t_start: float,
    body: Callable[[_Run, Store], None],
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Open the store under its lock, let ``body`` read and write sources, then bring the
    keyword index up to date and embed what waits (phase 2); write errors become StoreError."""
    store_dir = settings.store.expanduser().resolve()
    with StoreLock(store_dir):
        url, name = settings.chroma_url, settings.chroma_collection
        if rebuild:
            Store.wipe(store_dir, chroma_url=url, collection=name)
        else:  # an existing store keeps the chunking it was built with (unless set explicitly)
            settings = keep_store_chunking(settings, recorded_chunker(store_dir))
        signature = chunker_signature(settings, embedder.max_seq_length)
        store = Store.open(
            store_dir, model=embedder.name, chunker=signature, chroma_url=url, collection=name
        )
        try:
            report.repaired = repair(store)
            run = _Run(settings, store, embedder, report, progress)
            body(run, store)
            store.manifest.set_meta(last_sync=time.time())
            t0 = time.perf_counter()
            sync_keyword_index(store)
            report.timings["index"] += time.perf_counter() - t0
            report.keyword_ready = time.perf_counter() - t_start
            embed_waiting(store, embedder, report, lambda done, total: run.tick("", (done, total)))
            store.manifest.set_meta(embedding_engine=getattr(embedder, "engine", "remote"))
        except Exception as exc:
            if isinstance(exc, PdqError) or not _write_failure(exc):
                raise
            raise StoreError(
                f"cannot write to the store at {store_dir} ({type(exc).__name__}: {str(exc)[:160]}). Is the disk "
                "full or read-only? Everything written before this point is kept and consistent; free some "
                "space and run the same `pdq ingest` again to finish"
            ) from exc
        finally:
            store.close()
    _note_ocr(settings, report)
    report.seconds = time.perf_counter() - t_start
    report.log_path = str(store_dir / "ingest.log")
    _write_log(report)
    return report


def _record_roots(store: Store, roots: list[Path]) -> None:
    """Remember what was ingested (``pdq sync`` re-syncs it); a path inside a recorded root is
    that root's business, not a root of its own."""
    m = store.manifest
    known = [Path(p) for p in m.root_paths()]
    new = [r for r in roots if not any(r != k and r.is_relative_to(k) for k in known)]
    with m.transaction():
        m.record_roots([str(r) for r in new], time.time())
        for r in roots:  # ingesting a forgotten sub-path by hand brings it back
            m.db.execute("DELETE FROM forgotten WHERE path = ?", (str(r),))


def _existing_dir(settings: Settings) -> Path:
    """The store directory ``settings`` names; IngestError (saying how to create it) when
    there is no store there."""
    store_dir = settings.store.expanduser().resolve()
    if not settings.chroma_url and not (store_dir / "manifest.sqlite").exists():
        raise IngestError(f"no pdq store at {store_dir}: run `pdq ingest PATH` first")
    return store_dir


def open_existing(settings: Settings) -> Store:
    """The store ``settings`` names, which must exist (IngestError saying how to create it)."""
    from ingest.core.privacy import apply_offline_env

    # before the first Chroma client: its settings read the environment this sets, and a second
    # client of the same path with other settings is refused ("already exists ... different")
    apply_offline_env()
    store_dir = _existing_dir(settings)
    return Store.open(
        store_dir,
        create=False,
        chroma_url=settings.chroma_url,
        collection=settings.chroma_collection,
    )


def sync_roots(
    settings: Settings, *, embedder: Embedder | None = None, progress: Progress | None = None
) -> IngestReport:
    """Ingest again every root the store remembers (``pdq sync``). A root that is gone from
    disk (an unmounted drive?) is reported and its items kept: ``pdq forget`` removes them."""
    store_dir = settings.store.expanduser().resolve()
    store = open_existing(settings)
    try:
        roots = store.manifest.root_paths()
    finally:
        store.close()
    if not roots:
        raise IngestError("nothing to sync: no folder was ingested into this store yet")
    here = [r for r in roots if Path(r).exists()]
    missing = [r for r in roots if not Path(r).exists()]
    report = (
        ingest_paths(here, settings, embedder=embedder, progress=progress)
        if here
        else IngestReport(store=str(store_dir))
    )
    for r in missing:
        report.failures.append(
            Failure(r, "missing", "not found (items kept; `pdq forget PATH` removes them)")
        )
    return report


def _no_chunker() -> Chunker:
    raise AssertionError("forgetting writes no chunks")


def forget_path(path: str | Path, settings: Settings) -> IngestReport:
    """Remove a root (or a folder or file inside one) and every item that came only from it;
    items also found elsewhere (a message in two folders) stay. ``pdq sync`` then skips it."""
    from ingest.core.privacy import apply_offline_env

    apply_offline_env()
    t0 = time.perf_counter()
    target = Path(path).expanduser().resolve()
    store_dir = _existing_dir(settings)  # a clear error before the lock when there is no store
    report = IngestReport(store=str(store_dir))
    with StoreLock(store_dir):
        store = open_existing(settings)
        try:
            m = store.manifest
            sources = m.sources_under([target])
            with m.transaction():
                known = m.forget_root(str(target))
            if not known and not sources:
                raise IngestError(f"{target} is not in this store (see `pdq sources` for what is)")
            writer = Writer(store, _no_chunker, report)  # removes only: nothing is chunked
            for src in sorted(sources):
                writer.remove_source(src)
            sync_keyword_index(store)
        finally:
            store.close()
    report.seconds = time.perf_counter() - t0
    return report


def _note_ocr(settings: Settings, report: IngestReport) -> None:
    """Say once, in the report, when scans and pictures could not be read for want of OCR."""
    from ingest.sources import ocr

    why = ocr.unavailable() if settings.ocr else ""
    if why and any(f.reason == "no text" for f in report.failures):
        report.notes.append(why)


def _roots(paths: Iterable[str | Path]) -> list[Path]:
    roots = []
    for p in paths:
        path = Path(p).expanduser()
        if not path.exists():
            raise IngestError(f"no such file or folder: {p}")
        roots.append(path.resolve())
    if not roots:
        raise IngestError("nothing to ingest: give one or more files or folders")
    return roots


def _run_sources(
    run: _Run, roots: list[Path], store_dir: Path, known: dict[str, SourceState]
) -> None:
    _process(run, _kept(run, (src for root in roots for src in walk(root)), store_dir), known)


def _kept(run: _Run, found: Iterable[SourceFile], store_dir: Path) -> list[SourceFile]:
    """``found`` without repeats, the store's own files and what `pdq forget` removed."""
    sources: list[SourceFile] = []
    seen: set[str] = set()
    forgotten = [Path(p) for p in run.store.manifest.forgotten()] if run.store else []
    for src in found:
        key = str(src.path)
        if key in seen or src.path.is_relative_to(store_dir):
            continue
        if any(src.path.is_relative_to(f) for f in forgotten):
            continue
        seen.add(key)
        sources.append(src)
    return sources


def _process(run: _Run, sources: list[SourceFile], known: dict[str, SourceState]) -> None:
    """Read the changed ``sources`` (size and mtime against ``known``), then remove the known
    sources that were not found again."""
    seen = {str(src.path) for src in sources}
    run.files_total = len(sources)
    run.report.files_seen = len(sources)
    for src in sources:
        old = known.get(str(src.path))
        try:
            st = src.path.stat()
        except OSError as exc:
            run.problem(Problem(str(src.path), "unreadable", str(exc)))
            continue
        if (
            old
            and run.writer is not None
            and old.size == st.st_size
            and old.mtime_ns == st.st_mtime_ns
            and old.kind == src.kind
            and not old.failed  # a file that failed is tried again
        ):
            run.report.files_skipped_unchanged += 1
            run.writer.count_unchanged(str(src.path))
            continue
        run.ingest_source(src, old)
    run.flush()
    if run.writer is not None:
        run.writer.finish_sources(run.finished)
        for path in sorted(set(known) - seen):
            run.writer.remove_source(path)
    run.tick()


def _write_log(report: IngestReport) -> None:
    if not report.log_path:
        return
    try:
        with open(report.log_path, "a", encoding="utf-8") as f:
            f.write(
                f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} ingest: {dict(report.totals)} "
                f"failed={report.failed} unsupported={len(report.unsupported)}\n"
            )
            for fl in report.failures:
                f.write(f"FAILED {fl.locator}: {fl.reason} {fl.detail}\n")
            for fl in report.unsupported:
                f.write(f"UNSUPPORTED {fl.locator}: {fl.detail or fl.reason}\n")
    except OSError as exc:
        logger.warning("could not write %s: %s", report.log_path, exc)
