"""Journaled writing, phase 1 of an ingest: items that changed are chunked and staged in the store
without vectors (their text, metadata and keyword index are usable at once; phase 2,
``ingest/semantic_index.py``, embeds them), items that are gone are deleted — each round recorded
in the manifest's ``pending`` journal first, so a run killed at any point leaves a journal the
next run repairs (:func:`repair`). Each chunk write moves the store's content generation on and
logs its items for the keyword index (:meth:`ingest.store.Store._changed`), so questions asked
during a long ingest see every committed round."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ingest.chunking import Chunk, Chunker
from ingest.items import Item
from ingest.report import IngestReport
from ingest.store import Store
from ingest.store.manifest import SourceState

logger = logging.getLogger(__name__)

Link = tuple[str, str, str, str]  # item id, source file, locator, mail folder


@dataclass
class PendingSource:
    """A source whose items are parsed but maybe not all written yet."""

    state: SourceState
    links_before: set[tuple[str, str]] | None  # None: append mode, keep old links
    links_now: set[tuple[str, str]] = field(default_factory=set)


class Writer:
    """Writes one ingest run's rounds to the store, journaled."""

    def __init__(self, store: Store, chunker: Callable[[], Chunker], report: IngestReport) -> None:
        self.store = store
        self.chunker = chunker
        self.report = report

    def write(self, items: list[Item], links: list[Link]) -> None:
        """One round: unchanged items only get their new links, changed and new ones are
        chunked and written with placeholder vectors."""
        write, moved = self._sort(items)
        t0 = time.perf_counter()
        chunks = [(it, h, upd, self.chunker().chunk_item(it)) for it, h, upd in write]
        self.report.timings["chunk"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        flat = self._store(chunks, links)
        self._relabel(moved)
        self.report.chunks_stored += len(flat)
        self.report.timings["write"] += time.perf_counter() - t0

    def _sort(self, items: list[Item]) -> tuple[list[tuple[Item, str, bool]], list[Item]]:
        """(to write: item, content hash, is an update), (unchanged but found somewhere new)."""
        m = self.store.manifest
        known = m.item_hashes([it.item_id for it in items])
        write: list[tuple[Item, str, bool]] = []
        moved: list[Item] = []
        for it in items:
            h = it.content_hash()
            old = known.get(it.item_id)
            if old and old[0] == h:
                self.report.count(it.kind, "unchanged")
                if not m.has_link(
                    it.item_id, str(it.meta.get("path", "")), str(it.meta.get("locator", ""))
                ):
                    moved.append(
                        it
                    )  # same content found somewhere new (renamed file, other folder)
            else:
                write.append((it, h, old is not None))
        return write, moved

    def _store(
        self, chunks: list[tuple[Item, str, bool, list[Chunk]]], links: list[Link]
    ) -> list[Chunk]:
        """Journal, replace, write, record, clear the journal."""
        m = self.store.manifest
        ids = [it.item_id for it, *_ in chunks]
        with m.transaction():
            m.mark_pending(ids, "write")
        updated = [it.item_id for it, _, upd, _ in chunks if upd]
        if updated:
            self.store.delete_items(updated)
        flat = [c for *_, cs in chunks for c in cs]
        if flat:
            self.store.stage(
                [c.chunk_id for c in flat], [c.text for c in flat], [c.meta for c in flat]
            )
        multi_folder: set[str] = set()
        with m.transaction():
            for it, h, upd, cs in chunks:
                m.put_item(
                    it.item_id, it.kind, h, len(cs), it.title, it.meta.get("date"), embedded=False
                )
                self.report.count(it.kind, "updated" if upd else "new")
            for iid, source, locator, folder in links:
                before = m.folders_of(iid) if folder else []
                m.add_link(iid, source, locator, folder)
                if folder and before and folder not in before:
                    multi_folder.add(iid)
            m.clear_pending(ids)
        for iid in multi_folder:
            self.store.update_metadata(
                m.chunk_ids([iid]), {"folders": "; ".join(m.folders_of(iid))}
            )
        return flat

    def _relabel(self, moved: list[Item]) -> None:
        for it in moved:
            where = {k: it.meta[k] for k in ("path", "locator", "folder") if it.meta.get(k)}
            self.store.update_metadata(self.store.manifest.chunk_ids([it.item_id]), where)

    def finish_sources(self, finished: list[PendingSource]) -> None:
        """Record finished sources (their items are all written now) and drop what they lost."""
        m = self.store.manifest
        for p in finished:
            if p.links_before is not None:
                gone = p.links_before - p.links_now
                if gone:
                    with m.transaction():
                        orphans = m.remove_links(p.state.path, gone)
                    self.delete_items(orphans)
            with m.transaction():
                m.put_source(p.state)
        finished.clear()

    def delete_items(self, item_ids: Iterable[str]) -> None:
        ids = list(item_ids)
        if not ids:
            return
        m = self.store.manifest
        info = m.item_info(ids)
        with m.transaction():
            m.mark_pending(ids, "delete")
        self.store.delete_items(ids)
        with m.transaction():
            for iid in ids:
                m.delete_item(iid)
            m.clear_pending(ids)
        for kind, n_chunks in info.values():
            self.report.count(kind, "removed")
            self.report.chunks_removed += n_chunks

    def remove_source(self, path: str) -> None:
        m = self.store.manifest
        with m.transaction():
            orphans = m.remove_links(path)
            m.delete_source(path)
        self.delete_items(orphans)
        self.report.files_removed += 1

    def count_unchanged(self, path: str) -> None:
        for kind, n in self.store.manifest.kinds_of_source(path).items():
            self.report.count(kind, "found", n)
            self.report.count(kind, "unchanged", n)


def repair(store: Store) -> int:
    """Undo writes left half-done by a killed run; their sources will be read again."""
    m = store.manifest
    ids = m.pending()
    if not ids:
        return 0
    logger.warning("repairing %d items left pending by an interrupted run", len(ids))
    store.delete_items(ids)
    with m.transaction():
        m.invalidate_sources_of(ids)
        m.drop_item_rows(ids)
        m.clear_pending(ids)
    return len(ids)
