"""The "at a glance" view: today's events, the next days' events and the open to-dos (by due
date, overdue first), read from the store's metadata alone: no model is loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from ingest.store import Store

from .answer import Source
from .dates import TimeRange
from .filters import Filters
from .listings import list_items


@dataclass
class Glance:
    now: datetime
    today: list[Source] = field(default_factory=list)
    upcoming: list[Source] = field(default_factory=list)  # after today, within ``days``
    todos: list[Source] = field(default_factory=list)  # open, by due date, undated last
    days: int = 7

    def overdue(self, todo: Source) -> bool:
        return todo.date is not None and todo.date < self.now

    @property
    def empty(self) -> bool:
        return not (self.today or self.upcoming or self.todos)


def read_glance(store: Store, tz: str, now: datetime, days: int = 7, limit: int = 40) -> Glance:
    """Events from the start of ``now``'s day to the end of the ``days``-th day after it, and
    open to-dos."""
    start = datetime.combine(now.date(), time(0), now.tzinfo)
    tomorrow = start + timedelta(days=1)
    end = start + timedelta(days=days + 1)
    events = list_items(
        store, Filters(time=TimeRange(start, end, ""), kinds=("event",)).where(), tz, limit
    )
    todos = list_items(store, Filters(kinds=("todo",), open_todos=True).where(), tz, limit)
    today = [e for e in events if e.date is not None and e.date < tomorrow]
    upcoming = [e for e in events if e.date is not None and e.date >= tomorrow]
    return Glance(now=now, today=today, upcoming=upcoming, todos=todos, days=days)
