"""The store: the only code that touches Chroma or SQLite.

- ``chroma.py`` — :class:`Store`: the Chroma collection of chunks (embedded or a server) and the
  manifest beside it; the lock; reads for retrieval (``chunks``, ``chunks_where``, ``vectors``).
- ``manifest.py`` — the SQLite manifest: sources, items, links, the write journal, the keyword log.
- ``keyword_index.py`` — the BM25 index over the same chunks, kept current with the store.
- ``keyword_delta.py`` — what changed since the BM25 index was built, applied without a rebuild.
"""

from ingest.store.chroma import COLLECTION, Store, StoreLock, prepare_dir, recorded_chunker

__all__ = ["COLLECTION", "Store", "StoreLock", "prepare_dir", "recorded_chunker"]
