"""The store directory: a Chroma collection of chunks plus the manifest beside it.

Opens (or creates) ``<store>/chroma`` with telemetry off and one collection, ``pdq``, whose
metadata records the embedding model, its dimension and the chunker that built it. Opening a
store with another model or chunker raises :class:`StoreMismatchError` naming both and how to
rebuild. The directory is created owner-only (0700): it holds a person's mail. Embeddings are
always passed in: Chroma never embeds anything itself (it would download a model).
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Any

from .errors import StoreError, StoreMismatchError
from .manifest import Manifest

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


def _client(store: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(
        path=str(store / "chroma"),
        settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True),
    )


def _check(path: Path, manifest: Manifest, model: str | None, chunker: str | None) -> None:
    built_model = manifest.get_meta("embedding_model")
    built_chunker = manifest.get_meta("chunker")
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


class Store:
    """Chroma collection + manifest. ``Store.open`` for reading and writing."""

    def __init__(self, path: Path, client: Any, collection: Any, manifest: Manifest) -> None:
        self.path = path
        self.client = client
        self.collection = collection
        self.manifest = manifest

    @classmethod
    def open(cls, path: Path, *, model: str | None = None, chunker: str | None = None,
             dim: int | None = None, create: bool = True) -> Store:
        """Open the store. With ``model``/``chunker`` given, refuse a store built differently.
        With ``create`` false and no store there, raise StoreError."""
        path = Path(path).expanduser()
        if not create and not (path / "manifest.sqlite").exists():
            raise StoreError(f"no pdq store at {path}: run `pdq ingest PATH` first")
        prepare_dir(path)
        try:
            manifest = Manifest(path / "manifest.sqlite")
            client = _client(path)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot open the store at {path}: {type(exc).__name__}: {exc}") from exc
        _check(path, manifest, model, chunker)
        try:
            collection = client.get_collection(COLLECTION, embedding_function=None)
        except Exception:
            collection = None
        if collection is None and model:
            meta: dict[str, Any] = {"pdq_embedding_model": model, "pdq_chunker": chunker or ""}
            if dim:
                meta["pdq_embedding_dim"] = dim
            collection = client.create_collection(
                COLLECTION, metadata=meta, embedding_function=None,
                configuration={"hnsw": {"space": "cosine", "ef_construction": 200, "ef_search": 100, "max_neighbors": 32}},
            )
            manifest.set_meta(embedding_model=model, chunker=chunker or "", embedding_dim=dim or 0)
        return cls(path, client, collection, manifest)

    @staticmethod
    def wipe(path: Path) -> None:
        """Delete every chunk and the manifest (for --rebuild); keeps the directory and logs.
        The collection is dropped through Chroma's API: it caches clients per path, so
        deleting its files under a live client would leave it writing to a removed database."""
        path = Path(path).expanduser()
        if (path / "chroma").exists():
            client = _client(path)
            if COLLECTION in [getattr(c, "name", c) for c in client.list_collections()]:
                client.delete_collection(COLLECTION)
        for name in ("manifest.sqlite", "manifest.sqlite-wal", "manifest.sqlite-shm"):
            (path / name).unlink(missing_ok=True)

    def check(self, model: str | None = None, chunker: str | None = None) -> None:
        """Raise :class:`StoreMismatchError` when the store was built with another model/chunker."""
        _check(self.path, self.manifest, model, chunker)

    def close(self) -> None:
        self.manifest.close()

    # --- chunk writes ------------------------------------------------------------------------
    def upsert(self, ids: list[str], embeddings: list[list[float]], documents: list[str], metadatas: list[dict]) -> None:
        for i in range(0, len(ids), WRITE_BATCH):
            sl = slice(i, i + WRITE_BATCH)
            self.collection.upsert(ids=ids[sl], embeddings=embeddings[sl], documents=documents[sl], metadatas=metadatas[sl])

    def delete_items(self, item_ids: list[str]) -> None:
        for i in range(0, len(item_ids), 500):
            self.collection.delete(where={"item_id": {"$in": item_ids[i : i + 500]}})

    def update_metadata(self, chunk_ids: list[str], meta: dict) -> None:
        if chunk_ids:
            self.collection.update(ids=chunk_ids, metadatas=[dict(meta) for _ in chunk_ids])

    def count(self) -> int:
        return self.collection.count() if self.collection is not None else 0

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())
