"""Search filters: a date range, kinds, senders, open to-dos — as a Chroma ``where`` clause and
as a Python predicate over the same metadata (for the BM25 side), so both retrievers filter
exactly alike.

:func:`from_user` turns what a caller passes (``{"since": "2026-03-01", "kinds": ["email"],
"sender": "anna"}``) into :class:`Filters`; :mod:`rag.intent` adds what the question implies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ingest.core.errors import ConfigError
from ingest.items import KINDS

from .dates import TimeRange

__all__ = ["KINDS", "Filters", "from_user"]


@dataclass(frozen=True)
class Filters:
    time: TimeRange | None = None
    kinds: tuple[str, ...] = ()
    senders: tuple[str, ...] = ()  # exact stored from_addr values
    sender_label: str = ""
    open_todos: bool = False
    # read from the question: soft (undated items pass; relaxed when nothing matches)
    time_from_question: bool = False
    sender_from_question: bool = False

    def with_(self, **kw: Any) -> Filters:
        return replace(self, **kw)

    def where(self) -> dict | None:
        parts: list[dict] = []
        if self.time is not None:
            w = self.time.where("date")
            if w:
                parts += w["$and"] if "$and" in w else [w]
        if self.kinds:
            parts.append({"kind": {"$in": list(self.kinds)}})
        if self.senders:
            parts.append({"from_addr": {"$in": list(self.senders)}})
        if self.open_todos:
            parts.append({"done": False})
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def match(self, meta: dict[str, Any]) -> bool:
        if self.time is not None and not self.time.contains(meta.get("date")):
            if not (self.time_from_question and meta.get("date") is None):
                return False
        if self.kinds and meta.get("kind") not in self.kinds:
            return False
        if self.senders and meta.get("from_addr") not in self.senders:
            return False
        return not (self.open_todos and meta.get("done") is not False)

    def mask(self, index: Any) -> Any:
        """The same predicate as :meth:`match`, vectorised over a keyword index's metadata."""
        t = self.time
        start = (
            None if t is None else (t.start_epoch if t.start_epoch is not None else float("-inf"))
        )
        return index.mask(
            start=start,
            end=t.end_epoch if t is not None else None,
            kinds=self.kinds,
            senders=self.senders,
            open_todos=self.open_todos,
            keep_undated=self.time_from_question,
        )

    def describe(self) -> dict[str, str]:
        """For people: {"dates": "2026-03-09 to 2026-03-15", "kind": "event", ...}."""
        out: dict[str, str] = {}
        if self.time is not None:
            out["dates"] = self.time.label()
        if self.kinds:
            out["kind"] = ", ".join(self.kinds)
        if self.senders:
            out["from"] = self.sender_label or ", ".join(self.senders)
        if self.open_todos:
            out["to-dos"] = "open"
        return out

    def is_empty(self) -> bool:
        return self.where() is None


def _as_dt(v: Any, tz: ZoneInfo, end: bool) -> datetime:
    if isinstance(v, str):
        try:
            v = datetime.fromisoformat(v) if "T" in v or " " in v.strip() else date.fromisoformat(v)
        except ValueError as exc:
            raise ConfigError(f"not a date: {v!r} (use YYYY-MM-DD)") from exc
    if isinstance(v, datetime):
        return v.astimezone(tz) if v.tzinfo else v.replace(tzinfo=tz)
    if isinstance(v, date):  # a whole day: "until 2026-03-15" includes the 15th
        return datetime.combine(v + timedelta(days=1) if end else v, time(0), tz)
    raise ConfigError(f"not a date: {v!r}")


def from_user(given: Filters | dict[str, Any] | None, tz: str) -> Filters:
    """Filters a caller passed: a Filters, or a dict with since/until/kinds/sender/open_todos."""
    if given is None:
        return Filters()
    if isinstance(given, Filters):
        return given
    zone = ZoneInfo(tz)
    unknown = set(given) - {"since", "until", "kinds", "kind", "sender", "senders", "open_todos"}
    if unknown:
        raise ConfigError(
            f"unknown filter(s): {', '.join(sorted(unknown))} (use since, until, kinds, sender)"
        )
    since, until = given.get("since"), given.get("until")
    tr = None
    if since is not None or until is not None:
        tr = TimeRange(
            _as_dt(since, zone, False) if since is not None else None,
            _as_dt(until, zone, True) if until is not None else None,
            "",
        )
    kinds = given.get("kinds") or given.get("kind") or ()
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ConfigError(f"unknown kind(s): {', '.join(bad)} (choose from {', '.join(KINDS)})")
    sender = given.get("sender") or given.get("senders") or ()
    senders = (sender,) if isinstance(sender, str) else tuple(sender)
    return Filters(
        time=tr,
        kinds=kinds,
        senders=senders,
        sender_label=", ".join(senders),
        open_todos=bool(given.get("open_todos")),
    )
