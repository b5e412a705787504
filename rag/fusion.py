"""Fusion and grouping: the dense and keyword lists merged by reciprocal rank (ranks counted per
distinct thread / series / file), then at most ``per_group`` chunks per thread, series or file,
the latest message of a thread first."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from ingest.store import Store
from ingest.store.keyword_index import KeywordIndex

from .filters import Filters
from .keyword_search import lift_exact
from .stages import RRF_K, Candidate, Query


def group_key(meta: dict[str, Any]) -> str:
    """What a chunk belongs to: its mail thread, its event series, or its file."""
    kind = meta.get("kind")
    if kind in ("email", "attachment") and meta.get("thread_id"):
        return f"thread:{meta['thread_id']}"
    if kind == "event" and meta.get("uid"):
        return f"series:{meta['uid']}"
    return f"file:{meta.get('path') or meta.get('item_id')}"


def fuse(
    lists: dict[str, list[Candidate]],
    q: Query,
    kw: KeywordIndex | None,
    *,
    bm25_weight: float,
    exact_boost: float,
) -> list[Candidate]:
    """Weighted reciprocal-rank fusion of ``lists["dense"]`` and ``lists["keyword"]`` plus the
    exact-match lift. Chunks only BM25 found carry the keyword index's metadata (the filter and
    grouping fields) and no text: :func:`hydrate` fetches what the later stages need, so a
    search reads from Chroma the few chunks it shows, not all thirty BM25 found (each id costs
    Chroma ~0.5 ms at 100k chunks)."""
    t0 = time.perf_counter()
    by_id: dict[str, Candidate] = {}
    weights = {"dense": 1.0, "keyword": bm25_weight}
    for name in ("dense", "keyword"):
        # Rank by distinct thread / series / file, so twenty occurrences of a daily stand-up
        # (or twenty chunks of one file) cannot push everything else down the list.
        groups: dict[str, int] = {}
        for c in lists[name]:
            meta = (
                c.meta if c.meta is not None else (kw.meta_of(c.chunk_id) if kw is not None else {})
            )
            rank = groups.setdefault(group_key(meta or {"item_id": c.chunk_id}), len(groups))
            have = by_id.setdefault(c.chunk_id, c)
            if have is not c:
                have.scores.update(c.scores)
                have.text = have.text or c.text
                have.meta = have.meta or c.meta
            have.score += weights[name] / (RRF_K + rank + 1)
            have.scores.setdefault(f"rank_{'bm25' if name == 'keyword' else name}", rank + 1)
    lift_exact(by_id, q, kw, exact_boost)
    for c in by_id.values():
        c.scores["rrf"] = c.score
        if c.meta is None and kw is not None:
            c.meta = kw.meta_of(c.chunk_id) or None  # an id the index no longer has: dropped
    out = sorted((c for c in by_id.values() if c.meta is not None), key=lambda c: -c.score)
    q.timings["fuse"] = time.perf_counter() - t0
    return out


def hydrate(cands: list[Candidate], store: Store) -> list[Candidate]:
    """``cands`` with the text and full metadata of those that have none yet, in one read;
    a chunk the store no longer holds is left out."""
    missing = [c.chunk_id for c in cands if c.text is None]
    if not missing:
        return cands
    got = store.chunks(missing)
    for c in cands:
        if c.text is None and c.chunk_id in got:
            c.text, c.meta = got[c.chunk_id]
    return [c for c in cands if c.text is not None]


def group(cands: list[Candidate], q: Query, kw: KeywordIndex) -> list[Candidate]:
    """The top ``q.k`` after keeping at most ``q.per_group`` chunks per thread / series / file
    (other messages of a thread before a second chunk of one; a series' next occurrence first)."""
    t0 = time.perf_counter()
    now = q.now.timestamp()
    groups: dict[str, list[Candidate]] = defaultdict(list)
    for c in cands:
        groups[group_key(c.meta or {})].append(c)  # dicts keep first-seen order
    out: list[Candidate] = []
    for key, members in list(groups.items())[: q.k]:
        if key.startswith("thread:"):
            members = latest_first(key[7:], members, q.plan.filters, kw)
        elif key.startswith("series:") and q.plan.filters.time is None:
            members.sort(
                key=lambda c: (
                    (c.meta or {}).get("date", 0) < now,
                    abs((c.meta or {}).get("date", 0) - now),
                )
            )
        out += _per_group(members, q.per_group)
        if len(out) >= q.k:
            break
    q.timings["group"] = time.perf_counter() - t0
    return out[: q.k]


def _per_group(members: list[Candidate], limit: int) -> list[Candidate]:
    several_items = len({(m.meta or {}).get("item_id") for m in members}) > 1
    seen: set[str] = set()
    kept: list[Candidate] = []
    for c in members:
        item = (c.meta or {}).get("item_id", c.chunk_id)
        if item in seen and several_items:
            continue  # prefer other messages of the thread over a 2nd chunk of one
        seen.add(item)
        kept.append(c)
        if len(kept) >= limit:
            break
    return kept


def latest_first(
    thread_id: str, members: list[Candidate], filters: Filters, kw: KeywordIndex
) -> list[Candidate]:
    """In a mail thread the latest message wins: put it first, fetching it when the search did
    not find it (e.g. "the meeting moved twice": the last reply says where it landed)."""
    inside = [
        i for i in kw.thread(thread_id) if filters.match(kw.meta[i])
    ]  # from memory: no Chroma scan
    if inside:
        last = max(inside, key=lambda i: (kw.meta[i].get("date") or 0, kw.ids[i]))
        have = {(c.meta or {}).get("item_id") for c in members}  # that message, any chunk of it
        if kw.meta[last].get("item_id") not in have and kw.meta[last].get("kind") == "email":
            members = [  # its text is fetched with the other shown chunks (hydrate)
                Candidate(
                    kw.ids[last], None, kw.meta[last], {"thread_latest": 1.0}, members[0].score
                ),
                *members,
            ]
    members.sort(key=lambda c: -((c.meta or {}).get("date") or 0))
    return members
