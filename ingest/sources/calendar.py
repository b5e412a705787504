"""iCalendar data (.ics files and text/calendar mail parts) to event and to-do items.

Every VEVENT becomes an ``event`` item with timezone-aware start/end stored as UTC epoch
seconds; recurring events (RRULE/RDATE, with their modified and cancelled instances) are
expanded with ``recurring-ical-events`` into one item per occurrence inside a window (default
one year back, two ahead); each occurrence also carries its series' rule (RRULE, first start,
cancelled dates) so a question about any other year is answered from it (ingest/sources/recurrence.py),
and its text says how often it repeats ("Repeats: weekly on Saturday"). One-off events are kept whatever their date. VTODOs become ``todo``
items with due date and status. All-day and floating times are read in the user's timezone.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ingest.core.errors import ItemError
from ingest.items import Block, Item, ParseResult, Problem, epoch, iso_utc, stable_id
from ingest.sources.recurrence import in_words

logger = logging.getLogger(__name__)


def _as_datetime(value: Any, tz: ZoneInfo) -> tuple[datetime | None, bool]:
    """(aware datetime, all_day) from an icalendar date/datetime property value."""
    v = getattr(value, "dt", value)
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=tz)
        return v, False
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day, tzinfo=tz), True
    return None, False


def _text(component: Any, name: str) -> str:
    v = component.get(name)
    if v is None:
        return ""
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return " ".join(str(v).split()) if name != "DESCRIPTION" else str(v).strip()


def _person(value: Any) -> str:
    if value is None:
        return ""
    addr = str(value)
    addr = addr[7:] if addr.lower().startswith("mailto:") else addr
    params = getattr(value, "params", {}) or {}
    cn = params.get("CN")
    return f"{cn} <{addr}>" if cn else addr


def _when(start: datetime, end: datetime | None, all_day: bool, tz: ZoneInfo) -> str:
    s = start.astimezone(tz)
    if all_day:
        days = max(1, round(((end or start) - start).total_seconds() / 86400)) if end else 1
        last = (s + timedelta(days=days - 1)).date()
        return (
            f"{s:%a %Y-%m-%d} (all day)"
            if days == 1
            else f"{s:%a %Y-%m-%d} to {last:%a %Y-%m-%d} (all day)"
        )
    if end is None:
        return f"{s:%a %Y-%m-%d %H:%M}"
    e = end.astimezone(tz)
    if e.date() == s.date():
        return f"{s:%a %Y-%m-%d %H:%M}-{e:%H:%M}"
    return f"{s:%a %Y-%m-%d %H:%M} to {e:%a %Y-%m-%d %H:%M}"


def parse_calendar_bytes(
    data: bytes,
    *,
    source_key: str,
    locator: str,
    timezone: str = "UTC",
    now: datetime | None = None,
    past_days: int = 365,
    future_days: int = 730,
) -> ParseResult:
    """Parse an iCalendar stream. A broken file raises ItemError; a broken component is a
    Problem in the result and the rest of the calendar is still read."""
    import icalendar
    import recurring_ical_events

    tz = ZoneInfo(timezone)
    try:
        cals = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception as exc:
        raise ItemError(
            "corrupt", f"not a valid iCalendar file ({type(exc).__name__}: {exc})"[:300]
        ) from exc
    if not cals:
        raise ItemError("empty", "no calendar in the file")
    now = now or datetime.now(tz)
    window = (now - timedelta(days=past_days), now + timedelta(days=future_days))
    result = ParseResult()
    for cal in cals:
        _calendar_events(cal, result, source_key, locator, tz, window, recurring_ical_events)
        for todo in cal.walk("VTODO"):
            try:
                result.items.append(_todo_item(todo, source_key, locator, tz))
            except Exception as exc:
                result.problems.append(
                    Problem(f"{locator} > VTODO {todo.get('UID', '')}", "corrupt", str(exc)[:200])
                )
    return result


def _calendar_events(
    cal: Any,
    result: ParseResult,
    source_key: str,
    locator: str,
    tz: ZoneInfo,
    window: tuple[datetime, datetime],
    rie: Any,
) -> None:
    events = list(cal.walk("VEVENT"))
    recurring_uids = {
        str(e.get("UID", ""))
        for e in events
        if e.get("RRULE") or e.get("RDATE") or e.get("RECURRENCE-ID")
    }
    seen: set[tuple[str, int]] = set()
    if recurring_uids:
        try:
            occurrences = rie.of(cal, skip_bad_series=True).between(*window)
        except Exception as exc:
            result.problems.append(
                Problem(locator, "corrupt", f"recurring events could not be expanded: {exc}"[:300])
            )
            occurrences = []
        series = {
            str(e.get("UID", "")): _series(e, tz)
            for e in events
            if e.get("RRULE") and e.get("RECURRENCE-ID") is None
        }
        for occ in occurrences:
            uid = str(occ.get("UID", ""))
            if uid not in recurring_uids:
                continue
            _add_event(
                occ, result, source_key, locator, tz, seen, recurring=True, series=series.get(uid)
            )
    for ev in events:
        if str(ev.get("UID", "")) in recurring_uids:
            continue
        _add_event(ev, result, source_key, locator, tz, seen, recurring=False)


def _series(master: Any, tz: ZoneInfo) -> dict[str, Any]:
    """A recurring series' rule as metadata (see ingest.sources.recurrence), so any year's occurrences
    can be computed at question time, and the rule in words for the event's text."""
    try:
        rule = master.get("RRULE").to_ical().decode()
        start, _ = _as_datetime(master.get("DTSTART"), tz)
        raw = master.get("EXDATE")
        exdates = []
        for ex in raw if isinstance(raw, list) else [raw] if raw is not None else []:
            for d in getattr(ex, "dts", []):  # vDDDLists of cancelled starts
                dt, _ = _as_datetime(d, tz)
                if dt is not None:
                    exdates.append(iso_utc(dt))
    except Exception as exc:  # an odd rule: the stored window's occurrences still stand
        logger.debug("series rule not kept: %s", exc)
        return {}
    if start is None:
        return {}
    return {
        "series_rule": rule,
        "series_start": iso_utc(start),
        "series_exdates": "; ".join(exdates) or None,
        "repeats": in_words(rule, start.astimezone(tz)),
    }


def _times(ev: Any, tz: ZoneInfo) -> tuple[datetime | None, datetime | None, bool, str]:
    """(start, end, all day, why there is no start): DTEND, else DURATION, else one day for an
    all-day event. An unreadable time keeps the event, undated, rather than lose it."""
    try:
        start, all_day = _as_datetime(ev.get("DTSTART"), tz)
        end, _ = _as_datetime(ev.get("DTEND"), tz)
        if start is not None and end is None and ev.get("DURATION") is not None:
            end = start + ev.get("DURATION").dt
        if start is not None and end is None and all_day:
            end = start + timedelta(days=1)
        return start, end, all_day, ""
    except Exception as exc:
        return None, None, False, f"unreadable time ({type(exc).__name__})"


def _add_event(
    ev: Any,
    result: ParseResult,
    source_key: str,
    locator: str,
    tz: ZoneInfo,
    seen: set[tuple[str, int]],
    *,
    recurring: bool,
    series: dict[str, Any] | None = None,
) -> None:
    uid = str(ev.get("UID", "")) or None
    summary = _text(ev, "SUMMARY") or "(untitled event)"
    start, end, all_day, note = _times(ev, tz)
    if start is None:
        result.items.append(
            _undated_event(ev, summary, source_key, locator, note or "no start time")
        )
        return
    key = (uid or summary, epoch(start))
    if key in seen:
        return
    seen.add(key)
    status = _text(ev, "STATUS").upper()
    location = _text(ev, "LOCATION")
    organizer = _person(ev.get("ORGANIZER"))
    attendees = _attendees(ev)
    description = _text(ev, "DESCRIPTION")
    when = _when(start, end, all_day, tz)
    # one id per occurrence of a series (and per start when there is no UID)
    id_parts = [source_key, uid or summary]
    id_parts += [iso_utc(start)] * (
        (recurring or ev.get("RECURRENCE-ID") is not None) + (uid is None)
    )
    people = (organizer, attendees)
    lines = _event_lines(summary, when, location, people, series, status, description)
    context = f'Calendar event "{summary}", {when}' + (f" at {location}" if location else "")
    meta = {
        "date": epoch(start),
        "date_iso": iso_utc(start),
        "end": epoch(end) if end else None,
        "end_iso": iso_utc(end) if end else None,
        "all_day": all_day,
        "location": location,
        "organizer": organizer,
        "attendees": attendees,
        "uid": uid,
        "recurring": recurring or None,
        "status": status.lower() or None,
        "locator": locator,
        **(series or {}),
    }
    body = [Block("\n".join(lines))]
    result.items.append(Item(stable_id("event", *id_parts), "event", summary, context, body, meta))


def _attendees(ev: Any) -> list[str]:
    raw = ev.get("ATTENDEE") or []
    return [_person(a) for a in (raw if isinstance(raw, list) else [raw])]


def _event_lines(
    summary: str,
    when: str,
    location: str,
    people: tuple[str, list[str]],
    series: dict[str, Any] | None,
    status: str,
    description: str,
) -> list[str]:
    """The event's text: title, When, Where, Organizer, Attendees, Repeats, Status, notes."""
    organizer, attendees = people
    lines = [f"{summary}", f"When: {when}"]
    if location:
        lines.append(f"Where: {location}")
    if organizer:
        lines.append(f"Organizer: {organizer}")
    if attendees:
        lines.append("Attendees: " + ", ".join(attendees))
    if series and series.get("repeats"):
        lines.append(f"Repeats: {series['repeats']}")
    if status == "CANCELLED":
        lines.append("Status: cancelled")
    if description:
        lines.append(description)
    return lines


def _undated_event(ev: Any, summary: str, source_key: str, locator: str, note: str) -> Item:
    uid = str(ev.get("UID", "")) or summary
    lines = [summary, f"When: unknown ({note})"]
    for label, name in (("Where", "LOCATION"), ("", "DESCRIPTION")):
        v = _text(ev, name)
        if v:
            lines.append(f"{label}: {v}" if label else v)
    meta = {"location": _text(ev, "LOCATION"), "uid": uid, "locator": locator, "time_problem": note}
    return Item(
        stable_id("event", source_key, uid),
        "event",
        summary,
        f'Calendar event "{summary}" (no date)',
        [Block("\n".join(lines))],
        meta,
    )


def _todo_item(todo: Any, source_key: str, locator: str, tz: ZoneInfo) -> Item:
    summary = _text(todo, "SUMMARY") or "(untitled task)"
    due, _ = _as_datetime(todo.get("DUE"), tz)
    status = _text(todo, "STATUS").upper()
    done = status == "COMPLETED" or todo.get("COMPLETED") is not None
    description = _text(todo, "DESCRIPTION")
    uid = str(todo.get("UID", "")) or summary
    text = (
        f"To-do: {summary}"
        + (f" (due {due.astimezone(tz):%a %Y-%m-%d})" if due else "")
        + (" [done]" if done else " [open]")
    )
    if description:
        text += "\n" + description
    meta = {
        "date": epoch(due) if due else None,
        "date_iso": iso_utc(due) if due else None,
        "due": epoch(due) if due else None,
        "done": done,
        "status": "done" if done else "open",
        "locator": locator,
    }
    return Item(
        stable_id("todo", source_key, uid),
        "todo",
        summary,
        f'To-do "{summary}"',
        [Block(text)],
        meta,
    )
