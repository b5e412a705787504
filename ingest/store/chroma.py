"""The store: a Chroma collection of chunks plus the manifest beside it.

An ingest stores chunks first without their vectors (in ``<collection>.staging``, one-dimensional
placeholder points) and moves them into the collection once embedded; every read method sees
both, dense search only the embedded ones.

Embedded (the default): ``<store>/chroma`` opened with ``PersistentClient``. Server mode
(``chroma_url``): the collection lives on a Chroma server (``HttpClient``); the manifest, keyword
index, lock and logs stay in the local store directory. Telemetry is off either way.

The collection's metadata records the embedding model, its dimension and the chunker that built
it, which store (manifest) writes it, and the content generation (bumped by every ingest that
changes something, so readers on other machines know when their keyword index is stale). Opening
a store with another model or chunker raises :class:`StoreMismatchError` naming both and how to
rebuild; ingesting into a server collection kept by another store is refused. The directory is
created owner-only (0700): it holds a person's mail. Embeddings are always passed in: Chroma never
embeds anything itself (it would download a model).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingest.core.errors import NoStoreError, StoreError, StoreMismatchError
from ingest.store.manifest import Manifest
from ingest.store.staging import STAGING_SUFFIX, Staging, collection_or_none

logger = logging.getLogger(__name__)

COLLECTION = "pdq"
WRITE_BATCH = 1000  # chunks per Chroma upsert


def prepare_dir(store: Path) -> None:
    """Create the store directory owner-only; an existing one loses group/other access but is
    never made writable again (a store the user made read-only stays read-only)."""
    try:
        store.mkdir(parents=True, exist_ok=True, mode=0o700)
        mode = store.stat().st_mode & 0o777
        if mode & 0o077:
            os.chmod(store, mode & 0o700)
    except OSError as exc:
        raise StoreError(f"cannot create the store at {store}: {exc.strerror or exc}") from exc
    if not os.access(store, os.W_OK):
        raise StoreError(f"the store at {store} is not writable")


class StoreLock:
    """An exclusive lock on the store for writers (one ingest at a time)."""

    def __init__(self, store: Path) -> None:
        self.path = store / "ingest.lock"
        self._fd: int | None = None

    def __enter__(self) -> StoreLock:
        self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._fd)
            self._fd = None
            raise StoreError(
                f"another pdq ingest is running on {self.path.parent}; wait for it to finish"
            ) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)


# chromadb keeps one "system" per path in a process-wide cache that two threads opening the same
# path at once can corrupt (KeyError): the page's ingest thread and a question, for instance
_CLIENTS = threading.Lock()


def _client(store: Path, url: str = "") -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    if not url:
        with _CLIENTS:
            return chromadb.PersistentClient(path=str(store / "chroma"), settings=settings)
    parts = urlsplit(url)
    https = parts.scheme == "https"
    try:
        return chromadb.HttpClient(
            host=parts.hostname or "localhost",
            port=parts.port or (443 if https else 8000),
            ssl=https,
            settings=settings,
        )
    except Exception as exc:
        raise StoreError(
            f"cannot reach the Chroma server at {url}: {exc}. Is `chroma run` running there?"
        ) from exc


def _check(
    path: Path,
    manifest: Manifest,
    model: str | None,
    chunker: str | None,
    collection_meta: dict | None = None,
) -> None:
    meta = collection_meta or {}
    built_model = meta.get("pdq_embedding_model") or manifest.get_meta("embedding_model")
    built_chunker = meta.get("pdq_chunker") or manifest.get_meta("chunker")
    if model and built_model and built_model != model:
        raise StoreMismatchError(
            f"the store at {path} was built with embedding model {built_model!r}, but "
            f"{model!r} is configured. Use the same model, or re-embed everything with "
            "`pdq ingest --rebuild PATH...`"
        )
    if chunker and built_chunker and built_chunker != chunker:
        raise StoreMismatchError(
            f"the store at {path} was chunked with {built_chunker!r}, but {chunker!r} is "
            "configured. Keep the chunk settings, or rebuild with `pdq ingest --rebuild PATH...`"
        )


def recorded_chunker(path: Path) -> str | None:
    """The chunker signature the store at ``path`` records (None: no store there yet)."""
    if not (Path(path) / "manifest.sqlite").exists():
        return None
    import sqlite3

    try:
        db = sqlite3.connect(f"file:{Path(path) / 'manifest.sqlite'}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key='chunker'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _create_collection(
    client: Any,
    name: str,
    manifest: Manifest,
    path: Path,
    model: str,
    chunker: str | None,
    dim: int | None,
    chroma_url: str,
) -> Any:
    """A new collection (cosine HNSW) that records the model and chunker that built it."""
    meta: dict[str, Any] = {"pdq_embedding_model": model, "pdq_chunker": chunker or ""}
    if dim:
        meta["pdq_embedding_dim"] = dim
    if chroma_url:
        meta["pdq_writer"] = _writer_id(path, manifest)
    hnsw = {"space": "cosine", "ef_construction": 200, "ef_search": 100, "max_neighbors": 32}
    coll = client.create_collection(
        name, metadata=meta, embedding_function=None, configuration={"hnsw": hnsw}
    )
    manifest.set_meta(embedding_model=model, chunker=chunker or "", embedding_dim=dim or 0)
    return coll


def _writer_id(path: Path, manifest: Manifest) -> str:
    """This store's identity as a writer of a server collection: a random id kept in the
    manifest, plus where it lives (for the error message another machine gets)."""
    sid = manifest.get_meta("store_id")
    if not sid:
        sid = uuid.uuid4().hex[:12]
        manifest.set_meta(store_id=sid)
    return f"{sid} {socket.gethostname()}:{path}"


class Store(Staging):
    """Chroma collection + manifest. ``Store.open`` for reading and writing."""

    def __init__(
        self,
        path: Path,
        client: Any,
        collection: Any,
        manifest: Manifest,
        url: str = "",
        name: str = COLLECTION,
    ) -> None:
        self.path = path
        self.client = client
        self._collection = collection
        self.manifest = manifest
        self.url = url  # the Chroma server, or "" when embedded
        self.name = name
        self._staging: Any = None

    @property
    def collection(self) -> Any:
        """The Chroma collection; looked up again while there is none yet (a reader opened
        before the first ingest created it sees it once it exists)."""
        if self._collection is None:
            self._collection = collection_or_none(self.client, self.name)
        return self._collection

    @collection.setter
    def collection(self, value: Any) -> None:
        self._collection = value

    @property
    def where(self) -> str:
        """Where the chunks live, for messages: the directory or server + collection."""
        return f"{self.url} (collection {self.name!r})" if self.url else str(self.path)

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        model: str | None = None,
        chunker: str | None = None,
        dim: int | None = None,
        create: bool = True,
        chroma_url: str = "",
        collection: str = COLLECTION,
    ) -> Store:
        """Open the store. With ``model``/``chunker`` given (a writer), refuse a store built
        differently, or a server collection another store writes. With ``create`` false and no
        store there (embedded: no manifest; server: no collection), raise StoreError."""
        path = Path(path).expanduser()
        if not create and not chroma_url and not (path / "manifest.sqlite").exists():
            raise NoStoreError(f"no pdq store at {path}: run `pdq ingest PATH` first")
        prepare_dir(path)
        try:
            manifest = Manifest(path / "manifest.sqlite")
        except Exception as exc:
            raise StoreError(
                f"cannot open the store at {path}: {type(exc).__name__}: {exc}"
            ) from exc
        try:
            client = _client(path, chroma_url)
            coll = collection_or_none(client, collection)
        except StoreError:
            manifest.close()
            raise
        except Exception as exc:
            manifest.close()
            where = f"the Chroma server at {chroma_url}" if chroma_url else f"the store at {path}"
            raise StoreError(f"cannot open {where}: {type(exc).__name__}: {exc}") from exc
        if coll is None and not create and chroma_url:
            manifest.close()
            raise NoStoreError(
                f"no collection {collection!r} on the Chroma server at {chroma_url}: "
                "run `pdq ingest PATH` with the same --chroma-url first"
            )
        _check(path, manifest, model, chunker, coll.metadata if coll is not None else None)
        if coll is None and model:
            coll = _create_collection(
                client, collection, manifest, path, model, chunker, dim, chroma_url
            )
        store = cls(path, client, coll, manifest, chroma_url, collection)
        if model and chroma_url and coll is not None:
            store._claim()
        return store

    def _claim(self) -> None:
        """A writer of a server collection: it must be this store's (or nobody's yet)."""
        me = _writer_id(self.path, self.manifest)
        owner = (self.collection.metadata or {}).get("pdq_writer")
        if owner and owner.split()[0] != me.split()[0]:
            raise StoreError(
                f"the collection {self.name!r} on {self.url} is kept by another pdq store "
                f"({owner.split(' ', 1)[-1]}); ingest from there, or give this archive its own "
                "collection with --chroma-collection NAME"
            )
        if not owner:
            self._set_collection_meta(pdq_writer=me)

    def _set_collection_meta(self, **values: Any) -> None:
        meta = dict(self.collection.metadata or {})
        meta.update(values)
        self.collection.modify(metadata=meta)

    def generation(self) -> str:
        """The content generation: bumped by every ingest that changed something. In server
        mode read from the collection (fresh), so readers elsewhere see other machines' ingests."""
        if self.url and self.collection is not None:
            try:
                fresh = self.client.get_collection(self.name, embedding_function=None)
                return str((fresh.metadata or {}).get("pdq_generation") or "")
            except Exception as exc:
                raise StoreError(f"cannot reach the Chroma server at {self.url}: {exc}") from exc
        return self.manifest.get_meta("content_generation") or ""

    def set_generation(self, generation: str) -> None:
        self.manifest.set_meta(content_generation=generation)
        if self.url and self.collection is not None:
            self._set_collection_meta(pdq_generation=generation)

    def _changed(self, item_ids: Iterable[str]) -> None:
        """Before and after every chunk write: log the items for the keyword index, then move
        the content generation on. Before: a run killed mid-write leaves a stale generation and
        the items in the log, so the next run's index re-reads them. After: a reader that read
        the store during the write and labelled its index with the generation of then is stale
        once the write is done, and catches up from the log (ingest/store/keyword_delta.py)."""
        if not self.url:  # with a server nothing catches up from the log (keyword_log)
            self.manifest.log_changed(item_ids)
        self.set_generation(uuid.uuid4().hex)

    @property
    def keyword_log(self) -> Manifest | None:
        """The log a keyword index catches up from, or None with a Chroma server (whose other
        writers' changes this manifest never sees: readers there rebuild in full)."""
        return None if self.url else self.manifest

    @staticmethod
    def wipe(path: Path, *, chroma_url: str = "", collection: str = COLLECTION) -> None:
        """Delete every chunk and the manifest (for --rebuild); keeps the directory and logs.
        The collection is dropped through Chroma's API: it caches clients per path, so
        deleting its files under a live client would leave it writing to a removed database."""
        path = Path(path).expanduser()
        if chroma_url or (path / "chroma").exists():
            client = _client(path, chroma_url)
            for name in (collection, collection + STAGING_SUFFIX):
                if collection_or_none(client, name) is not None:
                    client.delete_collection(name)
        for name in ("manifest.sqlite", "manifest.sqlite-wal", "manifest.sqlite-shm"):
            (path / name).unlink(missing_ok=True)

    def check(self, model: str | None = None, chunker: str | None = None) -> None:
        """Raise :class:`StoreMismatchError` when the store was built with another model/chunker."""
        meta = self.collection.metadata if self.collection is not None else None
        _check(self.path, self.manifest, model, chunker, meta)

    def close(self) -> None:
        self.manifest.close()

    # --- chunk writes ------------------------------------------------------------------------
    def upsert(
        self,
        ids: list[str],
        embeddings: list[list[float]],
        documents: list[str],
        metadatas: list[dict],
    ) -> None:
        for i in range(0, len(ids), WRITE_BATCH):
            sl = slice(i, i + WRITE_BATCH)
            self.collection.upsert(
                ids=ids[sl],
                embeddings=embeddings[sl],
                documents=documents[sl],
                metadatas=metadatas[sl],
            )

    def delete_items(self, item_ids: list[str]) -> None:
        self._changed(item_ids)
        for coll in self._collections(writing=True):
            for i in range(0, len(item_ids), 500):
                coll.delete(where={"item_id": {"$in": item_ids[i : i + 500]}})
        self._changed(item_ids)

    def update_metadata(self, chunk_ids: list[str], meta: dict) -> None:
        if not chunk_ids:
            return
        items = [cid.rsplit("#", 1)[0] for cid in chunk_ids]
        self._changed(items)
        for coll in self._collections(writing=True):
            there = coll.get(ids=chunk_ids, include=[])["ids"]
            if there:
                coll.update(ids=there, metadatas=[dict(meta) for _ in there])
        self._changed(items)

    # --- reading (what rag asks of the store) -------------------------------------------------
    def chunks(self, ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Text and metadata of these chunks, by id (missing ids are left out)."""
        if not ids:
            return {}
        got = self.collection.get(ids=ids, include=["documents", "metadatas"])
        out = {
            cid: (doc or "", meta or {})
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }
        missing = [cid for cid in ids if cid not in out]
        if missing:
            out.update(self.staged(missing))
        return out

    def chunks_where(self, where: dict[str, Any] | None) -> list[tuple[str, str, dict[str, Any]]]:
        """(id, text, metadata) of every chunk matching a metadata filter (a Chroma ``where``),
        embedded or not yet."""
        out: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for coll in self._collections():
            got = coll.get(where=where, include=["documents", "metadatas"])
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                out.setdefault(cid, (cid, doc or "", meta or {}))
        return list(out.values())

    def all_chunks(self, page: int = 5000) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """(ids, texts, metadatas) of every chunk, embedded or not yet (for the keyword index)."""
        ids: list[str] = []
        docs: list[str] = []
        metas: list[dict[str, Any]] = []
        seen: set[str] = set()
        for coll in self._collections():
            offset = 0
            while True:
                got = coll.get(include=["documents", "metadatas"], limit=page, offset=offset)
                for cid, doc, meta in zip(
                    got["ids"], got["documents"], got["metadatas"], strict=True
                ):
                    if cid not in seen:
                        seen.add(cid)
                        ids.append(cid)
                        docs.append(doc or "")
                        metas.append(meta or {})
                if len(got["ids"]) < page:
                    break
                offset += page
        return ids, docs, metas

    @property
    def collection_meta(self) -> dict[str, Any]:
        """What the collection records about how it was built (model, chunker, generation)."""
        return dict(self.collection.metadata or {}) if self.collection is not None else {}

    def vectors(self, ids: list[str]) -> tuple[list[str], Any]:
        """(ids found, their embeddings as a float32 matrix) for these chunks (embedded ones)."""
        import numpy as np

        got = self.collection.get(ids=ids, include=["embeddings"])
        return list(got["ids"]), np.asarray(got["embeddings"], dtype=np.float32)

    def preload(self) -> None:
        """Have Chroma load the vector index from disk in a background thread (its first query
        does it: ~0.4 s at 100k chunks, without holding Python's lock), while the caller loads
        the keyword index and plans the question. For a one-shot terminal search."""
        if self.url or self.collection is None:
            return
        dim = int(self.manifest.get_meta("embedding_dim") or 0)
        if dim <= 0:
            return

        def load() -> None:
            try:
                self.nearest([dim**-0.5] * dim, 1)
            except Exception as exc:  # nothing embedded yet, and the like: the search says so
                logger.debug("preloading the vector index failed: %s", exc)

        threading.Thread(target=load, name="pdq-preload", daemon=True).start()

    def nearest(
        self, vector: list[float], n: int, *, ids: list[str] | None = None
    ) -> list[tuple[str, str, dict[str, Any], float]]:
        """The ``n`` embedded chunks nearest to ``vector`` in the HNSW index, as (id, text,
        metadata, cosine distance), best first; only among ``ids`` when given."""
        got = self.collection.query(
            query_embeddings=[vector],
            n_results=n,
            ids=ids,
            include=["documents", "metadatas", "distances"],
        )
        return [
            (cid, doc or "", meta or {}, float(dist))
            for cid, doc, meta, dist in zip(
                got["ids"][0],
                got["documents"][0],
                got["metadatas"][0],
                got["distances"][0],
                strict=True,
            )
        ]

    def count(self) -> int:
        """Chunks stored, embedded or not yet."""
        return sum(c.count() for c in self._collections())

    def size_bytes(self) -> int:
        """Bytes on local disk (in server mode: the manifest and indexes only)."""
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())
