"""Dense retrieval: the question's embedding against the chunks' (Chroma's HNSW index, asked
through ``Store.nearest``), restricted to the chunks a filter allows. Chunks an ingest has
staged but not embedded yet are not in that index (keyword search finds them).

langchain-chroma is not on this path: importing it costs about 0.8 s of every terminal search,
and it only forwarded to the same Chroma query (``rag/langchain_adapter.py`` serves notebooks)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ingest.core.settings import Settings
from ingest.embedding import Embedder
from ingest.store import Store
from ingest.store.keyword_index import KeywordIndex

from .filters import Filters
from .stages import Candidate, Query

logger = logging.getLogger(__name__)

EXACT_MAX = 600  # filtered dense search: up to this many allowed chunks are scored exactly


class DenseSearch:
    """The dense stage: ``DenseSearch(...)(query)`` → candidates by cosine similarity."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        settings: Settings,
        keyword: Callable[[], KeywordIndex],
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.keyword = keyword  # the BM25 index's in-memory metadata filters faster than Chroma's

    def __call__(self, q: Query) -> list[Candidate]:
        if q.mode == "bm25":
            return []
        t0 = time.perf_counter()
        vec = self.embedder.embed([q.plan.search_text])[0]
        q.timings["embed_query"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            hits = self.nearest(vec, q.n, q.plan.filters)
        except (
            Exception
        ) as exc:  # Chroma raises when k exceeds a tiny filtered set on some versions
            logger.debug("dense search failed (%s); using the keyword hits only", exc)
            hits = []
        q.timings["dense"] = time.perf_counter() - t0
        cands = [
            Candidate(cid, text, meta, {"dense": 1.0 - dist}) for cid, text, meta, dist in hits
        ]
        favour = set(q.plan.favour_kinds)
        if (
            favour
        ):  # a small similarity bump for the kinds the question favours (events for "meeting")
            bump = self.settings.kind_boost
            cands.sort(
                key=lambda c: (
                    -(c.scores["dense"] + (bump if (c.meta or {}).get("kind") in favour else 0.0))
                )
            )
        return cands

    def nearest(
        self, vec: list[float], n: int, filters: Filters
    ) -> list[tuple[str, str, dict, float]]:
        """The ``n`` nearest chunks (id, text, metadata, cosine distance) that pass ``filters``.

        Unfiltered: Chroma's HNSW index. Filtered: the allowed chunks come from the keyword
        index's in-memory metadata (the same rule as the ``where`` clause, vectorised), not from
        Chroma's metadata pre-filter, which costs 100-200 ms at 100k chunks. A few hundred allowed
        chunks are scored exactly (their vectors fetched by id); more are searched in HNSW
        restricted to their ids."""
        import numpy as np

        if filters.is_empty():
            return self.store.nearest(vec, n)
        kw = self.keyword()
        allowed = [kw.ids[i] for i in np.flatnonzero(filters.mask(kw))]
        if not allowed:
            return []
        if len(allowed) <= EXACT_MAX:
            found, vecs = self.store.vectors(allowed)  # staged (not embedded) ones are not there
            if not found:
                return []
            sims = vecs @ np.asarray(vec, dtype=np.float32)
            top = np.argsort(-sims)[:n]
            ids = [found[i] for i in top]
            by_id = self.store.chunks(ids)
            return [
                (cid, *by_id[cid], 1.0 - float(sims[i]))
                for cid, i in zip(ids, top, strict=True)
                if cid in by_id
            ]
        return self.store.nearest(vec, n, ids=allowed)
