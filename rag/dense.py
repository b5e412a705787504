"""Dense retrieval: the question's embedding against the chunks' (Chroma's HNSW index through
langchain-chroma), restricted to the chunks a filter allows."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ingest.core.settings import Settings
from ingest.embedding import Embedder
from ingest.store import Store
from ingest.store.keyword_index import KeywordIndex

from .filters import Filters
from .stages import Candidate, Query

logger = logging.getLogger(__name__)

EXACT_MAX = 600  # filtered dense search: up to this many allowed chunks are scored exactly


def embeddings_for_langchain(embedder: Embedder) -> Any:
    """pdq's embedder as a LangChain ``Embeddings`` (one model for ingest and queries)."""
    from langchain_core.embeddings import Embeddings

    class PdqEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed(list(texts))

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed([text])[0]

    return PdqEmbeddings()


class DenseSearch:
    """The dense stage: ``DenseSearch(...)(query)`` → candidates by cosine similarity."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        settings: Settings,
        keyword: Callable[[], KeywordIndex],
    ) -> None:
        from langchain_chroma import Chroma

        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.keyword = keyword  # the BM25 index's in-memory metadata filters faster than Chroma's
        self.vectorstore = Chroma(
            client=store.client,
            collection_name=store.name,
            embedding_function=embeddings_for_langchain(embedder),
            create_collection_if_not_exists=False,
        )

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
            hits = self.vectorstore.similarity_search_by_vector_with_relevance_scores(vec, k=n)
            return [(d.id or "", d.page_content, d.metadata, float(dist)) for d, dist in hits]
        kw = self.keyword()
        allowed = [kw.ids[i] for i in np.flatnonzero(filters.mask(kw))]
        if not allowed:
            return []
        if len(allowed) <= EXACT_MAX:
            found, vecs = self.store.vectors(allowed)
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
        hits = self.vectorstore.similarity_search_by_vector_with_relevance_scores(
            vec, k=n, ids=allowed
        )
        return [(d.id or "", d.page_content, d.metadata, float(dist)) for d, dist in hits]
