"""Phase 1's side of the store: chunks kept without their vectors until phase 2 embeds them.

They live in a second Chroma collection, ``<collection>.staging``, as one-dimensional points
(nearly free for Chroma's HNSW index, never met by a dense search); phase 2 moves them, embedded,
into the main collection (:meth:`Staging.promote`). :class:`~ingest.store.chroma.Store` mixes
this in, and every one of its read methods sees both collections.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any

from ingest.store.manifest import Manifest

STAGING_SUFFIX = ".staging"  # the collection of chunks waiting for their embedding
WRITE_BATCH = 1000


def collection_or_none(client: Any, name: str) -> Any:
    """The collection, or None when there is none of that name (any other failure raises)."""
    if name not in [getattr(c, "name", c) for c in client.list_collections()]:
        return None
    return client.get_collection(name, embedding_function=None)


class Staging:
    """The staging collection of a :class:`~ingest.store.chroma.Store`."""

    name: str
    client: Any
    manifest: Manifest
    _staging: Any

    @property
    def collection(self) -> Any: ...

    def upsert(
        self,
        ids: list[str],
        embeddings: list[list[float]],
        documents: list[str],
        metadatas: list[dict],
    ) -> None: ...

    def _changed(self, item_ids: Iterable[str]) -> None: ...

    # Chunks are first stored without their vector in a second collection of one-dimensional
    # points (nearly free for Chroma's HNSW, never met by a dense search); phase 2 moves them,
    # embedded, into the main collection. Every read below sees both.
    @property
    def staging_name(self) -> str:
        return self.name + STAGING_SUFFIX

    def _staged_collection(self, create: bool = False, writing: bool = False) -> Any:
        """The staging collection (None when there is none and ``create`` is false). Readers
        look for it only while the manifest says items wait for their vectors; writers always
        (a killed run may have left staged chunks its journal will have removed)."""
        looking = create or writing or self.manifest.waiting_for_vectors()
        if self._staging is None and looking:
            self._staging = collection_or_none(self.client, self.staging_name)
            if self._staging is None and create:
                self._staging = self.client.create_collection(
                    self.staging_name, embedding_function=None, metadata={"pdq_staging": True}
                )
        return self._staging

    def _collections(self, writing: bool = False) -> list[Any]:
        staging = self._staged_collection(writing=writing)
        return [c for c in (self.collection, staging) if c is not None]

    def stage(self, ids: list[str], documents: list[str], metadatas: list[dict]) -> None:
        """Store chunks (text and metadata) before they are embedded."""
        items = [
            str(m.get("item_id") or c.rsplit("#", 1)[0])
            for c, m in zip(ids, metadatas, strict=True)
        ]
        self._changed(items)
        staging = self._staged_collection(create=True)
        for i in range(0, len(ids), WRITE_BATCH):
            sl = slice(i, i + WRITE_BATCH)
            staging.upsert(
                ids=ids[sl],
                embeddings=[[zlib.crc32(cid.encode()) / 2**32] for cid in ids[sl]],
                documents=documents[sl],
                metadatas=metadatas[sl],
            )
        self._changed(items)

    def staged(self, ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Text and metadata of these chunks among those waiting for their vectors."""
        staging = self._staged_collection()
        if staging is None or not ids:
            return {}
        got = staging.get(ids=ids, include=["documents", "metadatas"])
        return {
            cid: (doc or "", meta or {})
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }

    def promote(
        self,
        ids: list[str],
        embeddings: list[list[float]],
        documents: list[str],
        metadatas: list[dict],
    ) -> None:
        """Phase 2: embedded chunks into the main collection, then out of staging (a kill in
        between leaves a chunk in both; reads prefer the main copy, the next run redoes it)."""
        self.upsert(ids, embeddings, documents, metadatas)
        staging = self._staged_collection(writing=True)
        if staging is not None:
            for i in range(0, len(ids), WRITE_BATCH):
                staging.delete(ids=ids[i : i + WRITE_BATCH])
