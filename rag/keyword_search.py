"""Keyword retrieval: BM25 over the same chunks (ingest/store/keyword_index.py), and the exact-match
lift — chunks holding the question's rare terms (a name, a number, an address) move up."""

from __future__ import annotations

import time

from ingest.store.keyword_index import KeywordIndex

from .stages import RRF_K, Candidate, Query


def bm25(kw: KeywordIndex, q: Query) -> list[Candidate]:
    """The BM25 stage: the best ``q.n`` chunks that pass the plan's filters."""
    if q.mode == "dense":
        return []
    t0 = time.perf_counter()
    f = q.plan.filters
    hits = kw.search(q.plan.search_text, q.n, None if f.is_empty() else f.mask(kw))
    q.timings["bm25"] = time.perf_counter() - t0
    return [Candidate(cid, None, None, {"bm25": s}) for cid, s in hits]


def lift_exact(
    by_id: dict[str, Candidate], q: Query, kw: KeywordIndex | None, boost: float
) -> None:
    """Exact matches win: chunks holding the question's rare terms gain up to ``boost`` first
    places, scaled by the idf-weighted share of those terms they hold. Holders that neither
    retriever returned join the candidates."""
    import numpy as np

    ev = q.evidence
    if ev is None or not ev.rare or not boost or kw is None or q.mode != "hybrid":
        return
    holders = np.unique(np.concatenate(list(ev.rare.values())))
    f = q.plan.filters
    if not f.is_empty():
        holders = holders[f.mask(kw)[holders]]
    cov = ev.coverage(holders)
    keep = np.argsort(-cov, kind="stable")[: q.n]
    for i in keep:
        cid = kw.ids[int(holders[i])]
        c = by_id.setdefault(cid, Candidate(cid, None, None))
        c.scores["exact"] = round(float(cov[i]), 4)
        c.score += boost * float(cov[i]) / (RRF_K + 1)
