"""What is in a store: items by kind, chunks, date range, models, size, last sync.

Read from the manifest (and Chroma's own count as a cross-check); no model is loaded.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class StoreStatus:
    store: str
    exists: bool
    items: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    chroma_chunks: int = 0
    sources: int = 0
    first_date: str | None = None
    last_date: str | None = None
    embedding_model: str | None = None
    embedding_dim: int | None = None
    chunker: str | None = None
    size_mb: float = 0.0
    last_sync: str | None = None
    chroma: str = ""  # "http://host:port (collection 'pdq')" in server mode
    writer: str = ""  # server mode: which store (host:path) ingests into the collection
    # items whose chunks have their vectors (dense search) of all items (keyword search covers
    # all): an ingest embeds after storing, newest first
    semantic_index: dict[str, int] = field(default_factory=dict)
    embedding_engine: str | None = None  # what embedded them last: onnx, torch, remote
    # files that could not be read (path, reason); every sync tries them again
    failed_files: list[tuple[str, str]] = field(default_factory=list)

    @property
    def semantic_line(self) -> str:
        """ "semantic index: 2,310 of 9,144 items" while an ingest is still embedding, else ""."""
        done, total = (
            self.semantic_index.get("embedded_items", 0),
            self.semantic_index.get("items", 0),
        )
        if total and done < total:
            return f"semantic index: {done:,} of {total:,} items (the rest found by keyword)"
        return ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        if not self.exists:
            return f"No pdq store at {self.store} yet. Run `pdq ingest PATH...` to create it."
        lines = [f"pdq store at {self.store}"]
        total = sum(self.items.values())
        lines.append(
            f"  items: {total}  ("
            + ", ".join(f"{k} {v}" for k, v in sorted(self.items.items()))
            + ")"
        )
        lines.append(
            f"  chunks: {self.chunks} (in Chroma: {self.chroma_chunks})  from {self.sources} files"
        )
        if self.first_date:
            lines.append(f"  dates: {self.first_date} to {self.last_date}")
        lines.append(
            f"  embedding model: {self.embedding_model} ({self.embedding_dim}-d"
            + (f", {self.embedding_engine}" if self.embedding_engine else "")
            + f"), chunker {self.chunker}"
        )
        if self.failed_files:
            lines.append(f"  failed files ({len(self.failed_files)}, tried again by `pdq sync`):")
            lines += [f"    ✗ {p}: {why}" for p, why in self.failed_files[:10]]
            if len(self.failed_files) > 10:
                lines.append(f"    … {len(self.failed_files) - 10} more")
        if self.semantic_line:
            lines.append(f"  {self.semantic_line}; `pdq ingest` finishes it")
        lines.append(f"  size: {self.size_mb:.1f} MB   last sync: {self.last_sync or 'never'}")
        if self.chroma:
            lines.append(
                f"  chunks on the Chroma server {self.chroma}, ingested by {self.writer or '?'}"
            )
        return "\n".join(lines)


def _day(epoch: int | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d") if epoch is not None else None


def read_status(store_dir: Path, *, chroma_url: str = "", collection: str = "pdq") -> StoreStatus:
    """The store's status. In server mode, counts come from this machine's manifest (zero on a
    machine that only asks questions) and the chunk count from the server."""
    from ingest.core.errors import NoStoreError
    from ingest.store import Store

    store_dir = Path(store_dir).expanduser()
    if not chroma_url and not (store_dir / "manifest.sqlite").exists():
        return StoreStatus(str(store_dir), False)
    try:
        store = Store.open(store_dir, create=False, chroma_url=chroma_url, collection=collection)
    except NoStoreError:
        return StoreStatus(f"{chroma_url} (collection {collection!r})", False)
    try:
        m = store.manifest
        cmeta = store.collection_meta
        first, last = m.date_range()
        last_sync = m.get_meta("last_sync")
        dim = m.get_meta("embedding_dim")
        return StoreStatus(
            store=str(store_dir),
            exists=True,
            items=m.counts_by_kind(),
            chunks=m.total_chunks(),
            chroma_chunks=store.count(),
            sources=m.n_sources(),
            first_date=_day(first),
            last_date=_day(last),
            embedding_model=m.get_meta("embedding_model") or cmeta.get("pdq_embedding_model"),
            embedding_dim=int(json.loads(dim)) if dim else cmeta.get("pdq_embedding_dim"),
            chunker=m.get_meta("chunker") or cmeta.get("pdq_chunker"),
            size_mb=store.size_bytes() / 1e6,
            last_sync=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(last_sync)))
            if last_sync
            else None,
            chroma=store.where if chroma_url else "",
            writer=str(cmeta.get("pdq_writer", "")).split(" ", 1)[-1],
            semantic_index=dict(
                zip(("embedded_items", "items"), m.embedding_progress(), strict=True)
            ),
            embedding_engine=m.get_meta("embedding_engine"),
            failed_files=m.failed_sources(),
        )
    finally:
        store.close()
