"""Search filters: a date range, kinds, senders, open to-dos, recipients, mail folders, one
thread, words of the subject — as a Python predicate over the stored metadata, vectorised over the
keyword index (both retrievers filter exactly alike), and as a Chroma ``where`` clause for the
fields Chroma can compare exactly (listings apply the predicate after it).

:func:`from_user` turns what a caller passes (``{"since": "2026-03-01", "kinds": ["email"],
"sender": "anna", "to": "anna", "folder": "Work"}``) into :class:`Filters`; :mod:`rag.intent`
adds what the question implies.
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
    recipients: tuple[str, ...] = ()  # lowercase names or addresses, any of them in To/Cc
    folders: tuple[str, ...] = ()  # mail folders (a message in two folders is in both)
    thread_id: str = ""  # one conversation
    subject: str = ""  # words that the subject (title) contains
    # read from the question: soft (undated items pass; relaxed when nothing matches)
    time_from_question: bool = False
    sender_from_question: bool = False
    recipient_from_question: bool = False

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
        if self.thread_id:
            parts.append({"thread_id": self.thread_id})
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"$and": parts}

    @property
    def beyond_where(self) -> bool:
        """Filters Chroma's ``where`` cannot express (substrings): apply :meth:`match` after it."""
        return bool(self.recipients or self.folders or self.subject)

    def match(self, meta: dict[str, Any]) -> bool:
        if self.time is not None and not self.time.contains(meta.get("date")):
            if not (self.time_from_question and meta.get("date") is None):
                return False
        if self.kinds and meta.get("kind") not in self.kinds:
            return False
        if self.senders and meta.get("from_addr") not in self.senders:
            return False
        if self.recipients:
            to = f"{meta.get('to') or ''}; {meta.get('cc') or ''}".lower()
            if not any(r in to for r in self.recipients):
                return False
        if self.folders:
            have = {f.strip().lower() for f in str(meta.get("folders") or "").split(";")}
            have.add(str(meta.get("folder") or "").lower())
            if not have & {f.lower() for f in self.folders}:
                return False
        if self.thread_id and meta.get("thread_id") != self.thread_id:
            return False
        if self.subject and self.subject.lower() not in str(meta.get("title") or "").lower():
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
            recipients=self.recipients,
            folders=self.folders,
            thread_id=self.thread_id,
            subject=self.subject,
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
        if self.recipients:
            out["to"] = ", ".join(self.recipients)
        if self.folders:
            out["folder"] = ", ".join(self.folders)
        if self.thread_id:
            out["thread"] = self.thread_id
        if self.subject:
            out["subject"] = self.subject
        return out

    def is_empty(self) -> bool:
        return self.where() is None and not self.beyond_where


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
    known = {"since", "until", "kinds", "kind", "sender", "senders", "open_todos", "to"}
    known |= {"folder", "folders", "thread", "thread_id", "subject"}
    unknown = set(given) - known
    if unknown:
        raise ConfigError(
            f"unknown filter(s): {', '.join(sorted(unknown))} (use since, until, kinds, sender, "
            "to, folder, thread, subject)"
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
        recipients=tuple(r.strip().lower() for r in _many(given.get("to")) if r.strip()),
        folders=tuple(f.strip() for f in _many(given.get("folder") or given.get("folders"))),
        thread_id=str(given.get("thread") or given.get("thread_id") or ""),
        subject=str(given.get("subject") or "").strip(),
    )


def _many(v: Any) -> tuple[str, ...]:
    if not v:
        return ()
    return (v,) if isinstance(v, str) else tuple(str(x) for x in v)
