"""Listings built from metadata, not written by the model: a schedule over a date range (events
in time order) and the open to-dos (by due date, overdue marked, undated last)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ingest.store import Store

from .answer import Source
from .filters import Filters


def list_items(
    store: Store,
    where: dict | None,
    tz: str,
    limit: int = 60,
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> list[Source]:
    """One source per stored item matching ``where`` (a Chroma filter) and ``keep`` (for what
    ``where`` cannot say, e.g. a recipient), in date order (undated last), read from the
    metadata alone: no model, no vectors."""
    seen: set[str] = set()
    sources: list[Source] = []
    for cid, doc, meta in store.chunks_where(where):
        if keep is not None and not keep(meta):
            continue
        iid = meta.get("item_id", cid)
        if iid in seen:
            continue
        seen.add(iid)
        sources.append(Source.from_chunk(cid, doc or "", meta, tz))
    far = float("inf")
    sources.sort(key=lambda s: (s.date.timestamp() if s.date else far, s.title))
    return sources[:limit]


def schedule_text(sources: list[Source], filters: Filters) -> str:
    """The events in time order, then the messages and notes that mention those days."""
    span = filters.time.label() if filters.time else "that time"
    events = [s for s in sources if s.kind == "event"]
    others = [s for s in sources if s.kind != "event"]
    if events:
        lines = [
            f"Your calendar for {span} ({len(events)} event{'s' if len(events) != 1 else ''}):"
        ]
    else:
        lines = [f"Nothing on your calendar for {span}."]
    for s in events:
        where = f" — {s.location}" if s.location else ""
        lines.append(f"- {s.when()}: {s.title}{where} [{s.n}]")
    if others:
        lines.append("Mentioned in your mail and notes:")
        for s in others:
            lines.append(f"- {s.header()} [{s.n}]")
    return "\n".join(lines)


def todos_text(sources: list[Source], filters: Filters, now: datetime) -> str:
    span = f" due {filters.time.label()}" if filters.time else ""
    if not sources:
        return f"No open to-dos{span}."
    lines = [f"Open to-dos{span} ({len(sources)}):"]
    for s in sources:
        due = ""
        if s.date:
            due = f" (due {s.date.strftime('%a %d %b')}{', overdue' if s.date < now else ''})"
        where = s.path.rsplit("/", 1)[-1] if s.path else ""
        lines.append(f"- {s.title}{due}{f' — {where}' if where else ''} [{s.n}]")
    return "\n".join(lines)


def text_for(listing: str, sources: list[Source], filters: Filters, now: datetime) -> str:
    """The answer's text for a listing: ``"schedule"`` or ``"todos"``."""
    if listing == "schedule":
        return schedule_text(sources, filters)
    return todos_text(sources, filters, now)
