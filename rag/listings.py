"""Listings built from metadata, not written by the model: a schedule over a date range (events
in time order) and the open to-dos (by due date, overdue marked, undated last)."""

from __future__ import annotations

import re
from datetime import datetime

from .answer import Source
from .filters import Filters


def schedule_text(sources: list[Source], filters: Filters) -> str:
    span = filters.time.label() if filters.time else "that time"
    if not sources:
        return f"Nothing on your calendar for {span}."
    lines = [f"Your calendar for {span} ({len(sources)} event{'s' if len(sources) != 1 else ''}):"]
    for s in sources:
        where = f" — {s.location}" if s.location else ""
        lines.append(f"- {s.when()}: {s.title}{where} [{s.n}]")
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
        title = re.sub(r"\s*\bdue:\S+", "", s.title).strip()
        lines.append(f"- {title}{due}{f' — {where}' if where else ''} [{s.n}]")
    return "\n".join(lines)
