"""Recurring calendar events in any year, and their rule in words (pure functions, no store).

Ingest stores one item per occurrence inside a window (a year back, two ahead) and, on each of
them, the series' rule (``series_rule``: the RRULE, ``series_start``: the first start,
``series_exdates``: cancelled starts, ``series_duration``). A question about another range
("When was the piano lesson in January 2025?") gets that range's occurrences computed here from
the rule, with ``python-dateutil``'s RFC 5545 rules, as the calendar client would show them.
Moved single occurrences outside the stored window are not known (they live only in the file).

:func:`in_words` turns a rule into "weekly on Saturday" / "monthly on the first Saturday", which
ingest writes into the event's text so "how often does X happen?" is answered from it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

_DAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
_ORDINAL = {
    1: "first",
    2: "second",
    3: "third",
    4: "fourth",
    5: "fifth",
    -1: "last",
    -2: "second to last",
}
_UNIT = {
    "DAILY": ("daily", "days"),
    "WEEKLY": ("weekly", "weeks"),
    "MONTHLY": ("monthly", "months"),
    "YEARLY": ("yearly", "years"),
}
MAX_OCCURRENCES = 12  # per series and question


def _parts(rule: str) -> dict[str, str]:
    body = rule.split(":", 1)[1] if rule.upper().startswith("RRULE:") else rule
    return {k.upper(): v for k, v in (p.split("=", 1) for p in body.strip().split(";") if "=" in p)}


def _byday(value: str) -> str:
    out = []
    for d in value.split(","):
        d = d.strip().upper()
        n, code = d[:-2], d[-2:]
        name = _DAYS.get(code, code)
        out.append(f"the {_ORDINAL.get(int(n), n + 'th')} {name}" if n not in ("", "+") else name)
    return " and ".join(out)


def in_words(rule: str, start: datetime) -> str:
    """ "weekly on Saturday", "every 2 weeks on Monday", "monthly on the first Saturday",
    "yearly on 14 March", "daily" (+ ", 20 times" / ", until 2026-06-30")."""
    p = _parts(rule)
    freq = p.get("FREQ", "").upper()
    if freq not in _UNIT:
        return "repeats"
    every, unit = _UNIT[freq]
    interval = int(p.get("INTERVAL", "1") or 1)
    text = every if interval == 1 else f"every {interval} {unit}"
    if "BYDAY" in p:
        text += f" on {_byday(p['BYDAY'])}"
    elif freq == "WEEKLY":
        text += f" on {start:%A}"
    elif freq == "MONTHLY":
        text += f" on day {p.get('BYMONTHDAY', start.day)}"
    elif freq == "YEARLY":
        text += f" on {start.day} {start:%B}"
    if "COUNT" in p:
        text += f", {p['COUNT']} times"
    if "UNTIL" in p:
        u = p["UNTIL"]
        text += f", until {u[:4]}-{u[4:6]}-{u[6:8]}"
    return text


def occurrences(
    meta: dict[str, Any], start: datetime | None, end: datetime | None, tz: str
) -> list[datetime]:
    """Starts of a stored series' occurrences in [start, end) (aware, in ``tz``), at most
    MAX_OCCURRENCES; empty when the item is not part of a series."""
    from dateutil.rrule import rrulestr

    rule, first = meta.get("series_rule"), meta.get("series_start")
    if not rule or not first:
        return []
    zone = ZoneInfo(tz)
    dtstart = datetime.fromisoformat(str(first)).astimezone(zone)
    naive_start = dtstart.replace(tzinfo=None)  # expand in local wall time: DST keeps the hour
    try:
        rr = rrulestr(str(rule), dtstart=naive_start, ignoretz=True)
    except (ValueError, TypeError):
        return []
    lo = (start or dtstart).astimezone(zone).replace(tzinfo=None)
    hi = end or (lo + timedelta(days=366 * 5))
    hi = hi.astimezone(zone).replace(tzinfo=None) if hi.tzinfo else hi
    skipped = {
        datetime.fromisoformat(x).astimezone(zone).replace(tzinfo=None)
        for x in str(meta.get("series_exdates") or "").split(";")
        if x.strip()
    }
    out: list[datetime] = []
    for dt in rr.xafter(lo - timedelta(seconds=1), inc=True):
        if dt >= hi or len(out) >= MAX_OCCURRENCES:
            break
        if dt not in skipped:
            out.append(dt.replace(tzinfo=zone))
    return out
