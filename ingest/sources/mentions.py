"""The days a message, note or document *mentions* ("see you Tuesday", "the launch on 3 May
2019", "next week"), as metadata, so a question about a day finds the mail that announces it and
not only items dated that day.

Relative phrases are resolved against the item's own date (a mail sent on Friday 6 March that
says "Tuesday" means 10 March); undated items resolve only absolute dates. The expressions and
their resolution are the ones questions use (:mod:`rag.dates`): one rule set for both sides.
Spans longer than a week ("in March", "next month") are not recorded: they would make every
item about a month match every day of it. At most ``MAX_DAYS`` days per item.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 24
MAX_SPAN = timedelta(days=7)
_UNDATED_BASE = datetime(2000, 1, 1)  # only absolute dates with a year survive the year check


def mentioned_days(text: str, sent: float | None, tz: str) -> list[date]:
    """The days ``text`` mentions, in order, without repeats."""
    from rag.dates import time_ranges  # imported here: rag imports ingest at module level

    zone = ZoneInfo(tz)
    base = datetime.fromtimestamp(sent, zone) if sent else _UNDATED_BASE.replace(tzinfo=zone)
    out: list[date] = []
    for r in time_ranges(text, base):
        if r.start is None or r.end is None or r.end - r.start > MAX_SPAN:
            continue
        if not sent and str(r.start.year) not in r.phrase:
            continue  # an undated note's "Tuesday" or "3 May" has no year to stand on
        day = r.start.date()
        while datetime.combine(day, datetime.min.time(), zone) < r.end and len(out) < MAX_DAYS:
            if day not in out:
                out.append(day)
            day += timedelta(days=1)
    return out
