"""Retrieval for dates: a recurring event's occurrences inside the question's range computed
from its rule, and the mail and notes that mention a day of a range."""

from __future__ import annotations

import re
from datetime import datetime

from ingest.store import Store
from ingest.store.keyword_index import KeywordIndex

from .answer import Source
from .intent import Plan
from .stages import Candidate


def series_in_range(cands: list[Candidate], plan: Plan, tz: str) -> tuple[list[Candidate], bool]:
    """Calendars in any year: a recurring event found outside the question's range stands in for
    its series; the series' occurrences inside the range are computed from its rule
    (ingest/sources/recurrence.py) and take its place. Stored occurrences in the range are kept. Returns
    (candidates, whether any occurrence was computed)."""
    tr = plan.filters.time
    assert tr is not None
    inside = {(c.meta or {}).get("uid") for c in cands if tr.contains((c.meta or {}).get("date"))}
    out: list[Candidate] = []
    done: set[str] = set()
    expanded = False
    for c in cands:
        meta = c.meta or {}
        uid = meta.get("uid")
        if (
            meta.get("kind") != "event"
            or not meta.get("series_rule")
            or tr.contains(meta.get("date"))
            or uid in inside
        ):
            out.append(c)
            continue
        if uid in done:
            continue
        done.add(str(uid))
        computed = _occurrences(c, tr.start, tr.end, tz)
        out += computed or [c]
        expanded = expanded or bool(computed)
    return out, expanded


def _occurrences(
    c: Candidate, start: datetime | None, end: datetime | None, tz: str
) -> list[Candidate]:
    from ingest.sources.recurrence import occurrences

    meta = c.meta or {}
    out = []
    length = (meta.get("end") or meta["date"]) - meta["date"]
    for i, when in enumerate(occurrences(meta, start, end, tz)):
        m = {
            **meta,
            "date": int(when.timestamp()),
            "end": int(when.timestamp()) + length,
            "date_iso": when.isoformat(),
            "computed_from_rule": True,
        }
        stored = re.search(r"When: ([^\n]*)", c.text or "")  # in the context line and the body
        text = (
            (c.text or "").replace(stored.group(1), f"{when:%a %Y-%m-%d %H:%M}")
            if stored
            else (c.text or "")
        )
        out.append(
            Candidate(
                f"{c.chunk_id}@{when:%Y%m%dT%H%M}",
                text,
                m,
                {**c.scores, "from_rule": 1.0},
                c.score - i * 1e-6,
            )
        )
    return out


def announcing(
    kw: KeywordIndex, store: Store, start: int | None, end: int | None, tz: str, limit: int = 5
) -> list[Source]:
    """Mail, notes and documents that mention a day of the range (ingest/sources/mentions.py), newest
    first: the message that announces next week's event belongs beside the calendar."""
    import numpy as np

    mask = kw.mentioning(start, end) & kw.mask(kinds=("email", "attachment", "note", "document"))
    picked: dict[str, int] = {}
    for i in sorted(np.flatnonzero(mask), key=lambda i: -(kw.meta[i].get("date") or 0)):
        picked.setdefault(kw.meta[i].get("item_id", kw.ids[i]), int(i))
        if len(picked) >= limit:
            break
    by_id = store.chunks([kw.ids[i] for i in picked.values()])
    return [
        Source.from_chunk(kw.ids[i], *by_id[kw.ids[i]], tz)
        for i in picked.values()
        if kw.ids[i] in by_id
    ]
