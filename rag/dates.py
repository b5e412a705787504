"""Time expressions in a question → a date range filter, deterministically.

``find_time_range("What's on my calendar next Tuesday?", now)`` returns a :class:`TimeRange`
(start inclusive, end exclusive, both timezone-aware in the user's zone; either may be open)
plus the phrase it matched, so retrieval can filter on the item's ``date`` (mail: sent; events:
start; to-dos: due) and search with the phrase removed.

Everything is resolved against an injected ``now`` — never the wall clock — so the same question
gives the same range in tests, demos and evaluation. Absolute dates ("3 April", "April 3rd",
"2026-04-03", "24/3") are parsed by ``dateparser`` (day-first); the range rules are ours:

========================  ==============================================================
today / tonight           the day (tonight: 17:00 to the end of the day)
tomorrow / yesterday      that day; also "the day after tomorrow", "the day before yesterday"
this / next / last week   Monday–Sunday weeks; "past week" is the rolling last 7 days
this / next / last        "this weekend" is the coming (or current) Sat–Sun; "next weekend"
weekend                   the one after it
Tuesday, on/this Tuesday  the first Tuesday from today on; "next Tuesday": the first after today;
                          "last Tuesday": the latest before today
this / next / last month  calendar months; "in March", "March 2026", "during March": that
                          month (this year when no year is given)
this / next / last year   calendar years
on 3 April, 2026-04-03    that day (this year when no year is given)
next / past N days|weeks  rolling windows from now; "N days ago", "in N days": that day
since X                   from the start of X until now (X resolved backwards: "since Monday")
before / until / by X     open start, up to X ("by"/"until" include X)
after X                   from the end of X, open end
between X and Y           start of X to end of Y; also "from X to Y"
upcoming / coming up      the next 14 days; "recently", "lately": the last 14 days
========================  ==============================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from ingest.core.settings import aware_now

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_WD = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?"
_MON = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_NUM = r"(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|couple of|few)"
_WORDNUM = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "couple of": 2,
    "few": 3,
}
_ORD = r"(?:st|nd|rd|th)?"
_DATE = (
    rf"(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}"
    rf"|\d{{1,2}}{_ORD}(?:\s+of)?\s+{_MON}(?:,?\s+\d{{4}})?"
    rf"|{_MON}\s+\d{{1,2}}{_ORD}(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?)"
)

# One span: a day, a week, a month... Longest alternatives first.
_SPAN = (
    r"(?:the\s+)?day\s+after\s+tomorrow|(?:the\s+)?day\s+before\s+yesterday"
    r"|this\s+(?:morning|afternoon|evening)|today|tonight|tomorrow|yesterday"
    r"|(?:the\s+)?week\s+after\s+next"
    rf"|(?:the\s+)?(?:next|last|past|coming)\s+{_NUM}\s+(?:days?|weeks?|months?)"
    rf"|{_NUM}\s+(?:days?|weeks?|months?)\s+ago|in\s+{_NUM}\s+(?:days?|weeks?)"
    r"|(?:this|next|last|previous|past|coming)\s+(?:week(?:end)?|month|year)|(?:the\s+)?weekend"
    rf"|(?:(?:this|next|last|coming)\s+)?{_WD}(?:\s+{_DATE})?"
    rf"|{_DATE}"
    rf"|{_MON}(?:\s+\d{{4}})?"
    r"|upcoming|coming\s+up|recently|lately"
)
_LEAD = r"(?:(?:on|in|for|during|of|at)\s+)?"
_COMPOUND = re.compile(
    rf"\b(?:(?P<between>between|from)\s+(?P<a>{_SPAN})\s+(?:and|to|until|till|through|-)\s+(?P<b>{_SPAN})"
    rf"|(?P<since>since)\s+(?P<s>{_SPAN})"
    rf"|(?P<before>before|until|till|by)\s+(?P<u>{_SPAN})"
    rf"|(?P<after>after)\s+(?P<f>{_SPAN})"
    rf"|{_LEAD}(?P<one>{_SPAN}))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TimeRange:
    """A half-open range [start, end) in the user's timezone; None is unbounded."""

    start: datetime | None
    end: datetime | None
    phrase: str = ""

    @property
    def start_epoch(self) -> int | None:
        return int(self.start.timestamp()) if self.start else None

    @property
    def end_epoch(self) -> int | None:
        return int(self.end.timestamp()) if self.end else None

    def where(self, field: str = "date") -> dict | None:
        """The Chroma ``where`` clause for this range on ``field``."""
        parts = []
        if self.start is not None:
            parts.append({field: {"$gte": self.start_epoch}})
        if self.end is not None:
            parts.append({field: {"$lt": self.end_epoch}})
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def contains(self, epoch: int | float | None) -> bool:
        if epoch is None:
            return False
        return (self.start_epoch is None or epoch >= self.start_epoch) and (
            self.end_epoch is None or epoch < self.end_epoch
        )

    def label(self) -> str:
        """Human form: '2026-03-16 to 2026-03-22', '2026-04-03', 'from 2026-03-09 00:00'."""

        def d(x: datetime) -> str:
            return x.strftime("%Y-%m-%d") if x.time() == time(0) else x.strftime("%Y-%m-%d %H:%M")

        def last(x: datetime) -> str:  # the inclusive end: midnight ends the previous day
            return (x - timedelta(days=1)).strftime("%Y-%m-%d") if x.time() == time(0) else d(x)

        if self.start and self.end:
            if (
                self.start.time() == time(0)
                and self.end.time() == time(0)
                and self.end - self.start <= timedelta(hours=25)
            ):
                return d(self.start)
            return f"{d(self.start)} to {last(self.end)}"
        if self.start:
            return f"from {d(self.start)}"
        if self.end:
            return f"until {last(self.end)}"
        return "any time"


def _day(d: date, tz: tzinfo | None) -> datetime:
    return datetime.combine(d, time(0), tz)


def _num(s: str) -> int:
    s = s.lower().strip()
    return int(s) if s.isdigit() else _WORDNUM.get(s, 1)


def _weekday(word: str) -> int:
    w = word.lower()[:3]
    return [x[:3] for x in WEEKDAYS].index(w)


def _month(word: str) -> int:
    w = word.lower()[:3]
    return [x[:3] for x in MONTHS].index(w) + 1


def _add_months(d: date, n: int) -> date:
    m = d.month - 1 + n
    return date(d.year + m // 12, m % 12 + 1, 1)


def _parse_date(text: str, now: datetime) -> date | None:
    import dateparser

    settings = {
        "RELATIVE_BASE": now.replace(tzinfo=None),
        "DATE_ORDER": "DMY",
        "PREFER_DATES_FROM": "current_period",
        "PREFER_DAY_OF_MONTH": "first",
        "REQUIRE_PARTS": ["day", "month"],
    }
    got = dateparser.parse(re.sub(r"\bof\b", " ", text), languages=["en"], settings=settings)
    return got.date() if got else None


def _days(a: date, tz: Any, n: int = 1) -> tuple[datetime, datetime]:
    """[a, a + n days) as aware datetimes."""
    return _day(a, tz), _day(a + timedelta(days=n), tz)


def _span(phrase: str, now: datetime, *, past: bool = False) -> tuple[datetime, datetime] | None:
    """Resolve one span phrase to [start, end). ``past`` resolves bare weekdays backwards."""
    p = re.sub(r"\s+", " ", phrase.lower().strip())
    for rule in (_fixed_span, _counted_span, _unit_span):
        got = rule(p, now)
        if got is not None:
            return got
    return _weekday_span(p, now, past) or _named_span(p, now)


def _fixed_span(p: str, now: datetime) -> tuple[datetime, datetime] | None:
    """today, tonight, this morning/afternoon/evening, tomorrow, yesterday, the day after
    tomorrow, the day before yesterday, the week after next."""
    tz, today, one = now.tzinfo, now.date(), timedelta(days=1)
    if p == "today":
        return _days(today, tz)
    if p == "tonight":
        return datetime.combine(today, time(17), tz), _day(today + one, tz)
    if p.startswith("this ") and p[5:] in ("morning", "afternoon", "evening"):
        h = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24)}[p[5:]]
        end = datetime.combine(today, time(h[1]), tz) if h[1] < 24 else _day(today + one, tz)
        return datetime.combine(today, time(h[0]), tz), end
    fixed = {
        "tomorrow": (1, 1),
        "yesterday": (-1, 1),
        "after tomorrow": (2, 1),
        "before yesterday": (-2, 1),
    }
    for words, (shift, n) in fixed.items():
        if p == words or (" " in words and words in p):
            return _days(today + shift * one, tz, n)
    if "week after next" in p:
        return _days(today - timedelta(days=today.weekday()) + timedelta(days=14), tz, 7)
    return None


def _counted_span(p: str, now: datetime) -> tuple[datetime, datetime] | None:
    """the next 3 days, the past two weeks, 3 days ago, in 10 days."""
    tz, today = now.tzinfo, now.date()
    m = re.fullmatch(rf"(?:the )?(next|last|past|coming) ({_NUM}) (day|week|month)s?", p)
    if m:
        delta = timedelta(days=_num(m.group(2)) * {"day": 1, "week": 7, "month": 30}[m.group(3)])
        return (now, now + delta) if m.group(1) in ("next", "coming") else (now - delta, now)
    m = re.fullmatch(rf"({_NUM}) (day|week|month)s? ago", p)
    if m:
        return _days(
            today
            - timedelta(days=_num(m.group(1)) * {"day": 1, "week": 7, "month": 30}[m.group(2)]),
            tz,
        )
    m = re.fullmatch(rf"in ({_NUM}) (day|week)s?", p)
    if m:
        return _days(
            today + timedelta(days=_num(m.group(1)) * {"day": 1, "week": 7}[m.group(2)]), tz
        )
    return None


def _unit_span(p: str, now: datetime) -> tuple[datetime, datetime] | None:
    """(this|next|last|previous|past|coming) week / weekend / month / year."""
    m = re.fullmatch(
        r"(?:(this|next|last|previous|past|coming) )?(week|weekend|month|year)",
        p.removeprefix("the "),
    )
    if not m:
        return None
    tz, today = now.tzinfo, now.date()
    monday = today - timedelta(days=today.weekday())
    rel, unit = m.group(1) or "this", m.group(2)
    shift = {"this": 0, "coming": 0, "next": 1, "last": -1, "previous": -1, "past": -1}[rel]
    if unit == "week":
        if rel == "past":
            return now - timedelta(days=7), now
        if rel == "coming":
            return now, now + timedelta(days=7)
        return _days(monday + timedelta(days=7 * shift), tz, 7)
    if unit == "weekend":
        sat = monday + timedelta(days=5)
        if today.weekday() == 6 and rel in ("this", "coming"):
            sat = today - timedelta(days=1)
        return _days(sat + timedelta(days=7 * shift), tz, 2)
    if unit == "month":
        first = _add_months(today.replace(day=1), shift)
        return _day(first, tz), _day(_add_months(first, 1), tz)
    y = today.year + shift
    return _day(date(y, 1, 1), tz), _day(date(y + 1, 1, 1), tz)


def _weekday_span(p: str, now: datetime, past: bool) -> tuple[datetime, datetime] | None:
    """(this|next|last|coming) Tuesday [17 March]: a date given decides; a bare weekday is the
    next one (the last one when ``past``)."""
    m = re.fullmatch(rf"(?:(this|next|last|coming) )?({_WD})(?: ({_DATE}))?", p)
    if not m:
        return None
    tz, today = now.tzinfo, now.date()
    if m.group(3):  # "Tuesday 17 March": the date decides
        d = _parse_date(m.group(3), now)
        if d:
            return _days(d, tz)
    wd, rel = _weekday(m.group(2)), m.group(1)
    if rel == "last" or (rel is None and past):
        back = (today.weekday() - wd) % 7
        if rel == "last":
            back = back or 7  # "last Wednesday" on a Wednesday is a week ago
        return _days(today - timedelta(days=back), tz)
    ahead = (wd - today.weekday()) % 7
    if rel == "next" and ahead == 0:
        ahead = 7
    return _days(today + timedelta(days=ahead), tz)


def _named_span(p: str, now: datetime) -> tuple[datetime, datetime] | None:
    """upcoming, recently, a month (March 2017), a date."""
    tz, today = now.tzinfo, now.date()
    if p in ("upcoming", "coming up"):
        return now, now + timedelta(days=14)
    if p in ("recently", "lately"):
        return now - timedelta(days=14), now
    m = re.fullmatch(rf"({_MON})(?: (\d{{4}}))?", p)
    if m:
        first = date(int(m.group(2)) if m.group(2) else today.year, _month(m.group(1)), 1)
        return _day(first, tz), _day(_add_months(first, 1), tz)
    if re.fullmatch(_DATE, p, re.IGNORECASE):
        d = _parse_date(p, now)
        if d:
            return _days(d, tz)
    return None


_NOT_TIME = re.compile(
    r"^(?:may|mar|sun|sat|wed|jan|june?|july?|aug|oct|dec|nov|sept?|feb|apr)$", re.I
)


def find_time_range(question: str, now: datetime) -> TimeRange | None:
    """The first time expression in ``question`` as a range, or None. ``now`` must be aware."""
    return next(time_ranges(question, now), None)


def time_ranges(text: str, now: datetime) -> Iterator[TimeRange]:
    """Every time expression in ``text`` as a range, resolved against ``now`` (aware): a mail
    sent on a Friday that says "see you Tuesday" means the Tuesday after that Friday."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    for m in _COMPOUND.finditer(text):
        try:
            r = _range_of(m, now)
        except (ValueError, OverflowError):
            continue
        if r is not None:
            yield r


def _range_of(m: re.Match[str], now: datetime) -> TimeRange | None:
    g = m.groupdict()
    if g["between"]:
        a, b = _span(g["a"], now), _span(g["b"], now)
        while a and b and b[1] <= a[0] and re.fullmatch(_WD, g["b"].strip(), re.I):
            b = (b[0] + timedelta(days=7), b[1] + timedelta(days=7))  # "Monday to Wednesday"
        return TimeRange(a[0], b[1], m.group(0).strip()) if a and b else None
    if g["since"]:
        s = _span(g["s"], now, past=True)
        return (
            TimeRange(s[0], max(now, s[1]) if s[0] > now else now, m.group(0).strip())
            if s
            else None
        )
    if g["before"]:
        u = _span(g["u"], now)
        if not u:
            return None
        inclusive = g["before"].lower() in ("until", "till", "by")
        return TimeRange(None, u[1] if inclusive else u[0], m.group(0).strip())
    if g["after"]:
        f = _span(g["f"], now)
        return TimeRange(f[1], None, m.group(0).strip()) if f else None
    word = g["one"]
    # short words that are usually not dates on their own ("may I", "sat on")
    if _NOT_TIME.match(word.strip()) and not re.search(r"\b(in|during|on)\s", m.group(0), re.I):
        return None
    r = _span(word, now)
    return TimeRange(r[0], r[1], m.group(0).strip()) if r else None


def strip_phrase(question: str, tr: TimeRange | None) -> str:
    """The question without the matched time phrase (for keyword and vector search)."""
    if tr is None or not tr.phrase:
        return question
    out = re.sub(re.escape(tr.phrase), " ", question, count=1, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", out).strip(" ?,.") + ("?" if question.rstrip().endswith("?") else "")


def user_now(now: datetime | str | None, tz_name: str) -> datetime:
    """Coerce an injected ``now`` (aware, naive = user's zone, ISO string) to an aware datetime."""
    return aware_now(now, tz_name)
