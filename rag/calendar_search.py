"""Retrieval for dates: a recurring event's occurrences inside the question's range computed
from its rule, and the mail and notes that mention a day of a range."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from ingest.store import Store
from ingest.store.keyword_index import KeywordIndex

from .answer import Source
from .intent import Plan
from .stages import Candidate, Query


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


def scoped_and_open(
    ranked: Callable[[Plan, Query], list[Candidate]], plan: Plan, q: Query
) -> tuple[list[Candidate], list[str]]:
    """A date from the question is evidence, not a wall. When it scopes the question ("mail
    from last week") the range filters, undated notes and documents included, and only an
    empty range falls back to all dates (saying "dates" was relaxed). When it is part of what
    is asked ("what launched on 3 May 2019?") all dates are searched with the date words kept
    in the text, and what lies in the range gets a smaller, fused lift. A range that holds
    nothing dated (only undated notes passed it) is relaxed the same way."""
    scoped = ranked(plan, q)
    # undated notes pass the range, but only something dated inside it makes the range real
    dated = [c for c in scoped if (c.meta or {}).get("date") is not None]
    if dated and plan.time_role == "scope":
        return scoped, []
    wide_plan = replace(
        plan,
        search_text=plan.question,
        filters=plan.filters.with_(time=None, time_from_question=False),
    )
    wide = ranked(wide_plan, q)
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
