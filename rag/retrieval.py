"""Retrieval: from a question to the best few sources.

The chain (langchain-core runnables):

    plan ─┬─ dense:   Chroma through langchain-chroma, metadata ``where`` filters ─┐
          └─ keyword: BM25 (bm25s) over the same chunks, the same filters ───────┴─ RRF fusion
      (favoured kinds get a small similarity bump in the
        dense list; ranks count distinct threads/series/files) → optional cross-encoder rerank → grouped per thread / file
        (at most ``per_group`` chunks each; in a mail thread the latest message comes first, and
        is fetched when it was not retrieved) → relevance gate → top k :class:`Source` objects.

Listings (a schedule over a range, the open to-dos) come straight from the metadata, in time
order, without ranking: :meth:`Retriever.listing`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, get_args

from ingest.embedding import Embedder
from ingest.errors import ConfigError, ModelUnavailableError
from ingest.settings import RetrievalMode, Settings
from ingest.store import Store

from . import abstention, term_match
from .answer import Source
from .filters import Filters
from .intent import Plan, SenderDirectory, analyze
from .listings import list_items

logger = logging.getLogger(__name__)

MODES = get_args(RetrievalMode)
RRF_K = 60


def embeddings_for_langchain(embedder: Embedder) -> Any:
    """pdq's embedder as a LangChain ``Embeddings`` (one model for ingest and queries)."""
    from langchain_core.embeddings import Embeddings

    class PdqEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed(list(texts))

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed([text])[0]

    return PdqEmbeddings()


@dataclass
class Candidate:
    chunk_id: str
    text: str | None
    meta: dict[str, Any] | None
    scores: dict[str, float] = field(default_factory=dict)
    score: float = 0.0


@dataclass
class Retrieval:
    """What one search found, and how long each stage took."""

    plan: Plan
    sources: list[Source]
    timings: dict[str, float]
    best_dense: float | None = None
    gated: bool = False  # nothing was relevant enough: the answer should be "I don't know"
    relaxed: list[str] = field(default_factory=list)  # question filters dropped because they found nothing
    abstain_reason: str = ""  # why the store holds no answer (rag.abstention); "" when it may


EXACT_MAX = 600  # filtered dense search: up to this many allowed chunks are scored exactly


class Retriever:
    """Hybrid retrieval over one store. Thread-safe for queries; loads its indexes lazily."""

    def __init__(self, store: Store, embedder: Embedder, settings: Settings) -> None:
        from langchain_chroma import Chroma

        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.vectorstore = Chroma(client=store.client, collection_name=store.name,
                                  embedding_function=embeddings_for_langchain(embedder),
                                  create_collection_if_not_exists=False)
        self._keyword: Any = None
        self._senders: SenderDirectory | None = None
        self._reranker: Any = None
        self._lock = threading.Lock()
        self._chain = self._build_chain()

    # --- indexes ------------------------------------------------------------------------------
    @property
    def keyword(self) -> Any:
        """The BM25 index, loaded once and reloaded only when an ingest changed the store."""
        from ingest import keyword_index

        generation = self.store.generation()
        with self._lock:
            if self._keyword is None or self._keyword.generation != generation:
                idx = keyword_index.load(self.store.path)
                if idx is None or idx.generation != generation:
                    idx = keyword_index.build(self.store.collection, generation)
                self._keyword = idx
                self._senders = None
            return self._keyword

    @property
    def senders(self) -> SenderDirectory:
        kw = self.keyword
        if self._senders is None:
            self._senders = SenderDirectory({(m.get("from_name", ""), m.get("from_addr", "")) for m in kw.meta})
        return self._senders

    @property
    def reranker(self) -> Any:
        if self._reranker is None and self.settings.reranker_model:
            from sentence_transformers import CrossEncoder

            from ingest.embedding import resolve_model_path

            try:
                self._reranker = CrossEncoder(resolve_model_path(self.settings.reranker_model), device="cpu")
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
            base = base.with_(senders=tuple(sorted(set(addrs))), sender_label=self.senders.label(addrs))
        return analyze(question, now, self.senders, base)

    # --- the chain ----------------------------------------------------------------------------
    def _build_chain(self) -> Any:
        from langchain_core.runnables import RunnableLambda, RunnableParallel

        return (
            RunnableParallel(dense=RunnableLambda(self._dense), keyword=RunnableLambda(self._bm25),
                             q=RunnableLambda(lambda q: q))
            | RunnableLambda(self._fuse)
        )

    def _dense(self, q: dict) -> list[Candidate]:
        if q["mode"] == "bm25":
            return []
        t0 = time.perf_counter()
        vec = self.embedder.embed([q["plan"].search_text])[0]
        q["timings"]["embed_query"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            hits = self._nearest(vec, q["n"], q["plan"].filters)
        except Exception as exc:  # Chroma raises when k exceeds a tiny filtered set on some versions
            logger.debug("dense search failed (%s); using the keyword hits only", exc)
            hits = []
        q["timings"]["dense"] = time.perf_counter() - t0
        cands = [Candidate(cid, text, meta, {"dense": 1.0 - dist}) for cid, text, meta, dist in hits]
        favour = set(q["plan"].favour_kinds)
        if favour:  # a small similarity bump for the kinds the question favours (events for "meeting")
            bump = self.settings.kind_boost
            cands.sort(key=lambda c: -(c.scores["dense"] + (bump if (c.meta or {}).get("kind") in favour else 0.0)))
        return cands

    def _nearest(self, vec: list[float], n: int, filters: Filters) -> list[tuple[str, str, dict, float]]:
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
        kw = self.keyword
        allowed = [kw.ids[i] for i in np.flatnonzero(filters.mask(kw))]
        if not allowed:
            return []
        col = self.store.collection
        if len(allowed) <= EXACT_MAX:
            got = col.get(ids=allowed, include=["embeddings"])
            if not got["ids"]:
                return []
            sims = np.asarray(got["embeddings"], dtype=np.float32) @ np.asarray(vec, dtype=np.float32)
            top = np.argsort(-sims)[:n]
            ids = [got["ids"][i] for i in top]
            full = col.get(ids=ids, include=["documents", "metadatas"])
            by_id = {cid: (doc or "", meta or {}) for cid, doc, meta in
                     zip(full["ids"], full["documents"], full["metadatas"], strict=True)}
            return [(cid, *by_id[cid], 1.0 - float(sims[i])) for cid, i in zip(ids, top, strict=True) if cid in by_id]
        hits = self.vectorstore.similarity_search_by_vector_with_relevance_scores(vec, k=n, ids=allowed)
        return [(d.id or "", d.page_content, d.metadata, float(dist)) for d, dist in hits]

    def _bm25(self, q: dict) -> list[Candidate]:
        if q["mode"] == "dense":
            return []

        t0 = time.perf_counter()
        kw = self.keyword
        f: Filters = q["plan"].filters
        mask = None if f.is_empty() else f.mask(kw)
        hits = kw.search(q["plan"].search_text, q["n"], mask)
        q["timings"]["bm25"] = time.perf_counter() - t0
        return [Candidate(cid, None, None, {"bm25": s}) for cid, s in hits]

    def _fuse(self, r: dict) -> list[Candidate]:
        q = r["q"]
        t0 = time.perf_counter()
        by_id: dict[str, Candidate] = {}
        kw = self._keyword
        weights = {"dense": 1.0, "keyword": self.settings.bm25_weight}
        for name in ("dense", "keyword"):
            # Rank by distinct thread / series / file, so twenty occurrences of a daily stand-up
            # (or twenty chunks of one file) cannot push everything else down the list.
            groups: dict[str, int] = {}
            for c in r[name]:
                meta = c.meta if c.meta is not None else (kw.meta_of(c.chunk_id) if kw is not None else {})
                rank = groups.setdefault(self.group_key(meta or {"item_id": c.chunk_id}), len(groups))
                have = by_id.setdefault(c.chunk_id, c)
                if have is not c:
                    have.scores.update(c.scores)
                    have.text = have.text or c.text
                    have.meta = have.meta or c.meta
                have.score += weights[name] / (RRF_K + rank + 1)
                have.scores.setdefault(f"rank_{'bm25' if name == 'keyword' else name}", rank + 1)
        self._exact(by_id, q)
        missing = [cid for cid, c in by_id.items() if c.text is None]
        if missing:
            got = self.store.collection.get(ids=missing, include=["documents", "metadatas"])
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                by_id[cid].text, by_id[cid].meta = doc or "", meta or {}
        for c in by_id.values():
            c.scores["rrf"] = c.score
        out = sorted((c for c in by_id.values() if c.meta is not None), key=lambda c: -c.score)
        q["timings"]["fuse"] = time.perf_counter() - t0
        return out

    def _exact(self, by_id: dict[str, Candidate], q: dict) -> None:
        """Exact matches win: chunks holding the question's rare terms (a name, a number, an
        address) gain up to ``exact_boost`` first places, scaled by the idf-weighted share of
        those terms they hold. Holders that neither retriever returned join the candidates."""
        import numpy as np

        ev = q.get("evidence")
        boost = self.settings.exact_boost
        kw = self._keyword
        if ev is None or not ev.rare or not boost or kw is None or q["mode"] != "hybrid":
            return
        holders = np.unique(np.concatenate(list(ev.rare.values())))
        f: Filters = q["plan"].filters
        if not f.is_empty():
            holders = holders[f.mask(kw)[holders]]
        cov = ev.coverage(holders)
        keep = np.argsort(-cov, kind="stable")[: q["n"]]
        for i in keep:
            cid = kw.ids[int(holders[i])]
            c = by_id.setdefault(cid, Candidate(cid, None, None))
            c.scores["exact"] = round(float(cov[i]), 4)
            c.score += boost * float(cov[i]) / (RRF_K + 1)

    def _rerank(self, cands: list[Candidate], q: dict) -> list[Candidate]:
        if not q["rerank"] or not cands:
            return cands
        t0 = time.perf_counter()
        top = cands[: self.settings.rerank_candidates]
        scores = self.reranker.predict([(q["plan"].search_text, c.text or "") for c in top], show_progress_bar=False)
        for c, s in zip(top, scores, strict=True):
            c.scores["rerank"] = float(s)
            c.score = float(s)
        top.sort(key=lambda c: -c.score)
        q["timings"]["rerank"] = time.perf_counter() - t0
        return top + cands[len(top):]

    # --- grouping ------------------------------------------------------------------------------
    @staticmethod
    def group_key(meta: dict[str, Any]) -> str:
        kind = meta.get("kind")
        if kind in ("email", "attachment") and meta.get("thread_id"):
            return f"thread:{meta['thread_id']}"
        if kind == "event" and meta.get("uid"):
            return f"series:{meta['uid']}"
        return f"file:{meta.get('path') or meta.get('item_id')}"

    def _group(self, cands: list[Candidate], q: dict) -> list[Candidate]:
        t0 = time.perf_counter()
        k, per_group, now = q["k"], q["per_group"], q["now"].timestamp()
        groups: dict[str, list[Candidate]] = defaultdict(list)
        order: list[str] = []
        for c in cands:
            key = self.group_key(c.meta or {})
            if key not in groups:
                order.append(key)
            groups[key].append(c)
        out: list[Candidate] = []
        for key in order[:k]:
            members = groups[key]
            if key.startswith("thread:"):
                members = self._latest_first(key[7:], members, q["plan"].filters)
            elif key.startswith("series:") and q["plan"].filters.time is None:
                members.sort(key=lambda c: (c.meta.get("date", 0) < now, abs(c.meta.get("date", 0) - now)))
            several_items = len({(m.meta or {}).get("item_id") for m in members}) > 1
            seen_items: set[str] = set()
            kept = []
            for c in members:
                item = (c.meta or {}).get("item_id", c.chunk_id)
                if item in seen_items and several_items:
                    continue  # prefer other messages of the thread over a 2nd chunk of one
                seen_items.add(item)
                kept.append(c)
                if len(kept) >= per_group:
                    break
            out += kept
            if len(out) >= k:
                break
        q["timings"]["group"] = time.perf_counter() - t0
        return out[:k]

    def _latest_first(self, thread_id: str, members: list[Candidate], filters: Filters) -> list[Candidate]:
        """In a mail thread the latest message wins: put it first, fetching it when the search
        did not find it (e.g. "the meeting moved twice": the last reply says where it landed)."""
        kw = self.keyword  # the thread's chunks and their dates, from memory: no Chroma scan
        inside = [i for i in kw.thread(thread_id) if filters.match(kw.meta[i])]
        if inside:
            last = max(inside, key=lambda i: (kw.meta[i].get("date") or 0, kw.ids[i]))
            have = {(c.meta or {}).get("item_id") for c in members}  # that message, any chunk of it
            if kw.meta[last].get("item_id") not in have and kw.meta[last].get("kind") == "email":
                doc = self.store.collection.get(ids=[kw.ids[last]], include=["documents", "metadatas"])
                if doc["ids"]:
                    members = [Candidate(doc["ids"][0], doc["documents"][0], doc["metadatas"][0],
                                         {"thread_latest": 1.0}, members[0].score), *members]
        members.sort(key=lambda c: -((c.meta or {}).get("date") or 0))
        return members

    # --- public --------------------------------------------------------------------------------
    def search(self, plan: Plan, *, now: datetime, k: int | None = None, mode: str | None = None,
               rerank: bool | None = None, per_group: int | None = None) -> Retrieval:
        """Ranked sources for a plan (see :meth:`plan`)."""
        mode = mode or self.settings.retrieval_mode
        if mode not in MODES:
            raise ConfigError(f"unknown retrieval mode {mode!r} (choose from {', '.join(MODES)})")
        k = k or self.settings.top_k
        rerank = bool(self.settings.reranker_model) if rerank is None else rerank
        timings: dict[str, float] = {}
        q = {"plan": plan, "mode": mode, "n": max(self.settings.candidates, 3 * k), "k": k, "now": now,
             "timings": timings, "rerank": rerank, "per_group": per_group or self.settings.per_group}
        t0 = time.perf_counter()
        relaxed: list[str] = []
        if plan.time_role:  # a date read from the question: filtered and unfiltered, fused
            cands, relaxed = self._scoped_and_open(plan, q)
        else:
            cands = self._ranked(plan, q)
        if not cands and plan.filters.sender_from_question:  # "from Anna" found nothing at all
            wide = replace(plan, filters=plan.filters.with_(senders=(), sender_label="", sender_from_question=False))
            cands = self._ranked(wide, q)
            relaxed += ["from"] if cands else []
        if plan.filters.time is not None:
            cands, expanded = self._series_in_range(cands, plan)
            if expanded and "dates" in relaxed:
                relaxed.remove("dates")  # the range holds occurrences of a recurring series after all
        best_dense = max((c.scores.get("dense", -1.0) for c in cands), default=None)
        top = self._group(cands, q)
        timings["retrieval"] = time.perf_counter() - t0
        tz = self.settings.timezone
        sources = [Source.from_chunk(c.chunk_id, c.text or "", c.meta or {}, tz, c.score) for c in top]
        for s, c in zip(sources, top, strict=True):
            s.scores = {k2: round(v, 4) for k2, v in c.scores.items()}
        t1 = time.perf_counter()
        kw = self.keyword
        why = abstention.reason_to_abstain(plan.question, sources, term_match.analyse(kw, plan.question),
                                           best_dense if mode != "bm25" else None, self.settings.min_relevance,
                                           kw.tokens)
        timings["abstain"] = time.perf_counter() - t1
        return Retrieval(plan, sources, timings, best_dense, bool(why), relaxed, why)

    def _series_in_range(self, cands: list[Candidate], plan: Plan) -> tuple[list[Candidate], bool]:
        """Calendars in any year: a recurring event found outside the question's range stands in
        for its series; the series' occurrences inside the range are computed from its rule
        (ingest/recurrence.py) and take its place. Stored occurrences in the range are kept."""
        from ingest.recurrence import occurrences

        tr, tz = plan.filters.time, self.settings.timezone
        inside = {(c.meta or {}).get("uid") for c in cands if tr.contains((c.meta or {}).get("date"))}
        out: list[Candidate] = []
        done: set[str] = set()
        expanded = False
        for c in cands:
            meta = c.meta or {}
            uid = meta.get("uid")
            if meta.get("kind") != "event" or not meta.get("series_rule") or tr.contains(meta.get("date")) \
                    or uid in inside:
                out.append(c)
                continue
            if uid in done:
                continue
            done.add(uid)
            starts = occurrences(meta, tr.start, tr.end, tz)
            if not starts:
                out.append(c)
                continue
            expanded = True
            length = (meta.get("end") or meta["date"]) - meta["date"]
            for i, when in enumerate(starts):
                m = {**meta, "date": int(when.timestamp()), "end": int(when.timestamp()) + length,
                     "date_iso": when.isoformat(), "computed_from_rule": True}
                stored = re.search(r"When: ([^\n]*)", c.text or "")  # in the context line and the body
                text = (c.text or "").replace(stored.group(1), f"{when:%a %Y-%m-%d %H:%M}") if stored else (c.text or "")
                out.append(Candidate(f"{c.chunk_id}@{when:%Y%m%dT%H%M}", text, m, {**c.scores, "from_rule": 1.0},
                                     c.score - i * 1e-6))
        return out, expanded

    def _ranked(self, plan: Plan, q: dict) -> list[Candidate]:
        """Dense ∥ BM25 → fusion (+ exact-match lift) → optional rerank, for one plan."""
        q = {**q, "plan": plan}
        t0 = time.perf_counter()
        q["evidence"] = term_match.analyse(self.keyword, plan.search_text)
        q["timings"]["terms"] = time.perf_counter() - t0
        return self._rerank(self._chain.invoke(q), q)

    def _scoped_and_open(self, plan: Plan, q: dict) -> tuple[list[Candidate], list[str]]:
        """A date from the question is evidence, not a wall. When it scopes the question ("mail
        from last week") the range filters, undated notes and documents included, and only an
        empty range falls back to all dates (saying "dates" was relaxed). When it is part of what
        is asked ("what launched on 3 May 2019?") all dates are searched with the date words kept
        in the text, and what lies in the range gets a smaller, fused lift. A range that holds
        nothing dated (only undated notes passed it) is relaxed the same way."""
        scoped = self._ranked(plan, q)
        # undated notes pass the range, but only something dated inside it makes the range real
        dated = [c for c in scoped if (c.meta or {}).get("date") is not None]
        if dated and plan.time_role == "scope":
            return scoped, []
        wide_plan = replace(plan, search_text=plan.question,
                            filters=plan.filters.with_(time=None, time_from_question=False))
        wide = self._ranked(wide_plan, q)
        if not dated:
            return (wide, ["dates"]) if wide else (scoped, [])
        by_id: dict[str, Candidate] = {}
        for cands, w, tag in ((scoped, 0.25, "in_range"), (wide, 1.0, "any_date")):
            for rank, c in enumerate(cands):
                have = by_id.setdefault(c.chunk_id, Candidate(c.chunk_id, c.text, c.meta, {}))
                have.scores.update({k2: v for k2, v in c.scores.items() if k2 not in have.scores})
                have.scores[tag] = rank + 1
                undated = tag == "in_range" and (c.meta or {}).get("date") is None
                have.score += (w / 2 if undated else w) * c.score  # undated: kept, behind the range
        return sorted(by_id.values(), key=lambda c: -c.score), []

    def listing(self, plan: Plan, *, limit: int = 60) -> list[Source]:
        """Events in the plan's range (time order) or open to-dos (by due date, undated last),
        from the metadata alone."""
        items = list_items(self.store.collection, plan.filters.where(), self.settings.timezone, limit)
        tr = plan.filters.time
        if plan.listing != "schedule" or tr is None:
            return items
        return items + self._announcing(tr.start_epoch, tr.end_epoch)

    def _announcing(self, start: int | None, end: int | None, limit: int = 5) -> list[Source]:
        """Mail, notes and documents that mention a day of the range (ingest/mentions.py), newest
        first: the message that announces next week's event belongs beside the calendar."""
        import numpy as np

        kw = self.keyword
        mask = kw.mentioning(start, end) & kw.mask(kinds=("email", "attachment", "note", "document"))
        picked: dict[str, int] = {}
        for i in sorted(np.flatnonzero(mask), key=lambda i: -(kw.meta[i].get("date") or 0)):
            picked.setdefault(kw.meta[i].get("item_id", kw.ids[i]), int(i))
            if len(picked) >= limit:
                break
        if not picked:
            return []
        got = self.store.collection.get(ids=[kw.ids[i] for i in picked.values()], include=["documents", "metadatas"])
        by_id = dict(zip(got["ids"], zip(got["documents"], got["metadatas"], strict=True), strict=True))
        tz = self.settings.timezone
        return [Source.from_chunk(kw.ids[i], by_id[kw.ids[i]][0] or "", by_id[kw.ids[i]][1] or {}, tz)
                for i in picked.values() if kw.ids[i] in by_id]
