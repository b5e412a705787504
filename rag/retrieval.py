"""Retrieval: from a question to the best few sources. :class:`Retriever` composes the stages,
one module each:

    plan (rag/intent.py) ─┬─ dense   (rag/dense.py): the question's embedding, Chroma's HNSW ─┐
                          └─ keyword (rag/keyword_search.py): BM25 over the same chunks ──────┴─ fusion
    (rag/fusion.py: reciprocal-rank fusion counted per thread / series / file, + the exact-match
    lift for rare terms) → optional cross-encoder rerank → recurring events expanded into the
    question's range (rag/calendar_search.py) → grouped per thread / series / file, the latest
    message of a thread first → the "nothing here" decision (rag/abstention.py) → top k
    :class:`Source` objects. The dense and keyword stages run in parallel (two threads: the
    question's embedding and BM25 overlap); the stages share :class:`rag.stages.Query` and
    :class:`rag.stages.Candidate`. ``rag/langchain_adapter.py`` offers the retriever to LangChain
    chains in notebooks; langchain-core is kept off this path (its import costs half a second of
    every terminal search).

A date read from the question filters only when it scopes the question; otherwise it is searched
both ways and fused (:meth:`Retriever._scoped_and_open`). Listings (a schedule over a range, the
open to-dos) come straight from the metadata, in time order: :meth:`Retriever.listing`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, get_args

from ingest.core.errors import ConfigError, ModelUnavailableError
from ingest.core.settings import RetrievalMode, Settings
from ingest.embedding import Embedder
from ingest.store import Store
from ingest.store.keyword_index import KeywordIndex

from . import abstention, term_match
from .answer import Source
from .calendar_search import announcing, scoped_and_open, series_in_range
from .dense import DenseSearch
from .filters import Filters
from .fusion import fuse, group, group_key, hydrate
from .intent import Plan, SenderDirectory, analyze
from .keyword_search import bm25
from .listings import list_items
from .stages import RRF_K, Candidate, Query

__all__ = [
    "MODES",
    "RRF_K",
    "Candidate",
    "Retrieval",
    "Retriever",
    "group_key",
]

logger = logging.getLogger(__name__)

MODES = get_args(RetrievalMode)


@dataclass
class Retrieval:
    """What one search found, and how long each stage took."""

    plan: Plan
    sources: list[Source]
    timings: dict[str, float]
    best_dense: float | None = None
    gated: bool = False  # nothing was relevant enough: the answer should be "I don't know"
    relaxed: list[str] = field(
        default_factory=list
    )  # question filters dropped because they found nothing
    abstain_reason: str = ""  # why the store holds no answer (rag.abstention); "" when it may
    semantic: tuple[int, int] | None = None  # (embedded, all) items while an ingest still embeds


class Retriever:
    """Hybrid retrieval over one store. Thread-safe for queries; loads its indexes lazily."""

    def __init__(self, store: Store, embedder: Embedder, settings: Settings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.dense = DenseSearch(store, embedder, settings, lambda: self.keyword)
        self._keyword: KeywordIndex | None = None
        self._senders: SenderDirectory | None = None
        self._reranker: Any = None
        self._lock = threading.Lock()
        self._pool: Any = None  # a 2-thread executor for the dense and keyword stages

    # --- indexes ------------------------------------------------------------------------------
    @property
    def keyword(self) -> KeywordIndex:
        """The BM25 index, loaded once and reloaded only when an ingest changed the store."""
        from ingest.store import keyword_index

        generation = self.store.generation()
        with self._lock:
            if self._keyword is None or self._keyword.generation != generation:
                # a few changed items (a new mail while the page is open) are caught up in
                # memory from the store's log; else the saved index is loaded, or a stale or
                # missing one (another pdq version's format, an ingest that was stopped) is
                # rebuilt and saved, so the next terminal search just loads it
                idx = None
                if self._keyword is not None:
                    idx = keyword_index.catch_up(self._keyword, self.store, generation)
                if idx is None:
                    idx = keyword_index.sync_for(self.store, generation)
                self._keyword = idx
                self._senders = None
            return self._keyword

    @property
    def senders(self) -> SenderDirectory:
        kw = self.keyword
        if self._senders is None:
            self._senders = SenderDirectory(
                {(m.get("from_name", ""), m.get("from_addr", "")) for m in kw.live_meta()}
            )
        return self._senders

    @property
    def reranker(self) -> Any:
        if self._reranker is None and self.settings.reranker_model:
            from sentence_transformers import CrossEncoder

            from ingest.embedding import resolve_model_path

            try:
                self._reranker = CrossEncoder(
                    resolve_model_path(self.settings.reranker_model), device="cpu"
                )
            except Exception as exc:
                raise ModelUnavailableError(
                    f"cannot load reranker {self.settings.reranker_model!r} ({type(exc).__name__}: {exc}); "
                    "set PDQ_RERANKER_MODEL to a local sentence-transformers CrossEncoder path, or leave it empty"
                ) from exc
        return self._reranker

    # --- planning -----------------------------------------------------------------------------
    def plan(self, question: str, now: datetime, filters: Filters | None = None) -> Plan:
        base = filters or Filters()
        if base.senders:  # "anna" from the page → the stored addresses
            addrs: list[str] = []
            for s in base.senders:
                addrs += [s.lower()] if "@" in s else list(self.senders.resolve(s))
            if not addrs:
                raise ConfigError(f"no sender matches {', '.join(base.senders)!r} in this store")
            base = base.with_(
                senders=tuple(sorted(set(addrs))), sender_label=self.senders.label(addrs)
            )
        return analyze(question, now, self.senders, base)

    # --- the chain ----------------------------------------------------------------------------
    def _dense_and_keyword(self, q: Query) -> list[Candidate]:
        """The dense and keyword stages side by side, then fused."""
        from concurrent.futures import ThreadPoolExecutor

        if self._pool is None:
            self._pool = ThreadPoolExecutor(2, thread_name_prefix="pdq-retrieve")
        s = self.settings
        if q.kw is None:
            q = replace(q, kw=self.keyword)
        dense = self._pool.submit(self.dense, q)
        keyword = bm25(q.kw, q)
        return fuse(
            {"dense": dense.result(), "keyword": keyword},
            q,
            q.kw,
            bm25_weight=s.bm25_weight,
            exact_boost=s.exact_boost,
        )

    def _rerank(self, cands: list[Candidate], q: Query) -> list[Candidate]:
        if not q.rerank or not cands:
            return cands
        t0 = time.perf_counter()
        top = hydrate(cands[: self.settings.rerank_candidates], self.store)
        scores = self.reranker.predict(
            [(q.plan.search_text, c.text or "") for c in top], show_progress_bar=False
        )
        for c, s in zip(top, scores, strict=True):
            c.scores["rerank"] = float(s)
            c.score = float(s)
        top.sort(key=lambda c: -c.score)
        q.timings["rerank"] = time.perf_counter() - t0
        return top + cands[self.settings.rerank_candidates :]

    # --- public --------------------------------------------------------------------------------
    def search(
        self,
        plan: Plan,
        *,
        now: datetime,
        k: int | None = None,
        mode: str | None = None,
        rerank: bool | None = None,
        per_group: int | None = None,
    ) -> Retrieval:
        """Ranked sources for a plan (see :meth:`plan`)."""
        mode = mode or self.settings.retrieval_mode
        if mode not in MODES:
            raise ConfigError(f"unknown retrieval mode {mode!r} (choose from {', '.join(MODES)})")
        k = k or self.settings.top_k
        rerank = bool(self.settings.reranker_model) if rerank is None else rerank
        q = Query(
            plan,
            mode,
            n=max(self.settings.candidates, 3 * k),
            k=k,
            now=now,
            rerank=rerank,
            per_group=per_group or self.settings.per_group,
            kw=self.keyword,
        )
        t0 = time.perf_counter()
        cands, relaxed = self._candidates(plan, q)
        best_dense = max((c.scores.get("dense", -1.0) for c in cands), default=None)
        top = hydrate(group(cands, q, q.kw), self.store)
        q.timings["retrieval"] = time.perf_counter() - t0
        tz = self.settings.timezone
        sources = [
            Source.from_chunk(c.chunk_id, c.text or "", c.meta or {}, tz, c.score) for c in top
        ]
        for s, c in zip(sources, top, strict=True):
            s.scores = {k2: round(v, 4) for k2, v in c.scores.items()}
        m = self.store.manifest
        semantic = m.embedding_progress() if m.waiting_for_vectors() else None
        t1 = time.perf_counter()
        why = abstention.reason_to_abstain(
            plan.question,
            sources,
            term_match.analyse(q.kw, plan.question),
            # while an ingest still embeds, "nothing close" cannot be told from "not embedded
            # yet": only the other signals (unknown names, no answer of the wanted type) count
            best_dense if mode != "bm25" and semantic is None else None,
            self.settings.min_relevance,
            q.kw.tokens,
        )
        q.timings["abstain"] = time.perf_counter() - t1
        return Retrieval(plan, sources, q.timings, best_dense, bool(why), relaxed, why, semantic)

    def _candidates(self, plan: Plan, q: Query) -> tuple[list[Candidate], list[str]]:
        """Ranked candidates and the question's filters relaxed to find them: a date read from
        the question searched filtered and unfiltered, "from Anna" dropped when it found
        nothing, a recurring series expanded into the question's range."""
        relaxed: list[str] = []
        if plan.time_role:  # a date read from the question: filtered and unfiltered, fused
            cands, relaxed = scoped_and_open(self._ranked, plan, q)
        else:
            cands = self._ranked(plan, q)
        if not cands and plan.filters.sender_from_question:  # "from Anna" found nothing at all
            wide = replace(
                plan,
                filters=plan.filters.with_(senders=(), sender_label="", sender_from_question=False),
            )
            cands = self._ranked(wide, q)
            relaxed += ["from"] if cands else []
        if not cands and plan.filters.recipient_from_question:  # "sent to Anna" found nothing
            wide = replace(
                plan, filters=plan.filters.with_(recipients=(), recipient_from_question=False)
            )
            cands = self._ranked(wide, q)
            relaxed += ["to"] if cands else []
        if plan.filters.time is not None:
            events = [c for c in cands if c.text is None and (c.meta or {}).get("kind") == "event"]
            hydrate(events, self.store)  # a series' rule and text, to compute its occurrences
            cands = [
                c for c in cands if c.text is not None or (c.meta or {}).get("kind") != "event"
            ]
            cands, expanded = series_in_range(cands, plan, self.settings.timezone)
            if expanded and "dates" in relaxed:
                relaxed.remove(
                    "dates"
                )  # the range holds occurrences of a recurring series after all
        return cands, relaxed

    def _ranked(self, plan: Plan, q: Query) -> list[Candidate]:
        """Dense ∥ BM25 → fusion (+ exact-match lift) → optional rerank, for one plan."""
        t0 = time.perf_counter()
        kw = q.kw or self.keyword
        q = replace(q, plan=plan, kw=kw, evidence=term_match.analyse(kw, plan.search_text))
        q.timings["terms"] = time.perf_counter() - t0
        return self._rerank(self._dense_and_keyword(q), q)

    def listing(self, plan: Plan, *, limit: int = 60) -> list[Source]:
        """Events in the plan's range (time order) or open to-dos (by due date, undated last),
        from the metadata alone."""
        f = plan.filters
        items = list_items(
            self.store,
            f.where(),
            self.settings.timezone,
            limit,
            f.match if f.beyond_where else None,
        )
        tr = plan.filters.time
        if plan.listing != "schedule" or tr is None:
            return items
        return items + announcing(
            self.keyword, self.store, tr.start_epoch, tr.end_epoch, self.settings.timezone
        )
