"""Time expressions → date ranges, against a frozen now (Wed 2026-03-11 09:00 Europe/London)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from rag.dates import find_time_range, strip_phrase, user_now

TZ = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 11, 9, 0, tzinfo=TZ)
N = "now"

# question, expected start, expected end (exclusive); dates as YYYY-MM-DD[ HH:MM], None = open
TABLE = [
    ("What's on today?", "2026-03-11", "2026-03-12"),
    ("anything tonight", "2026-03-11 17:00", "2026-03-12"),
    ("plans for this evening", "2026-03-11 17:00", "2026-03-12"),
    ("What do I have tomorrow?", "2026-03-12", "2026-03-13"),
    ("mail from yesterday", "2026-03-10", "2026-03-11"),
    ("the day after tomorrow", "2026-03-13", "2026-03-14"),
    ("the day before yesterday", "2026-03-09", "2026-03-10"),
    ("What's on my calendar this week?", "2026-03-09", "2026-03-16"),
    ("What is on my calendar next week?", "2026-03-16", "2026-03-23"),
    ("What did Anna say about the budget last week?", "2026-03-02", "2026-03-09"),
    ("the week after next", "2026-03-23", "2026-03-30"),
    ("emails in the past week", "2026-03-04 09:00", N),
    ("Am I busy this weekend?", "2026-03-14", "2026-03-16"),
    ("plans for the weekend", "2026-03-14", "2026-03-16"),
    ("next weekend", "2026-03-21", "2026-03-23"),
    ("what did I do last weekend", "2026-03-07", "2026-03-09"),
    ("What's on my calendar next Tuesday?", "2026-03-17", "2026-03-18"),
    ("meetings on Friday", "2026-03-13", "2026-03-14"),
    ("this Friday", "2026-03-13", "2026-03-14"),
    ("What happened last Tuesday?", "2026-03-10", "2026-03-11"),
    ("last Wednesday", "2026-03-04", "2026-03-05"),
    ("next Wednesday", "2026-03-18", "2026-03-19"),
    ("on Wednesday", "2026-03-11", "2026-03-12"),
    ("mail since Monday", "2026-03-09", N),
    ("anything since last Tuesday", "2026-03-10", N),
    ("since 1 March", "2026-03-01", N),
    ("since February", "2026-02-01", N),
    ("events in March", "2026-03-01", "2026-04-01"),
    ("during April", "2026-04-01", "2026-05-01"),
    ("in February 2025", "2025-02-01", "2025-03-01"),
    ("this month", "2026-03-01", "2026-04-01"),
    ("next month", "2026-04-01", "2026-05-01"),
    ("last month", "2026-02-01", "2026-03-01"),
    ("this year", "2026-01-01", "2027-01-01"),
    ("last year", "2025-01-01", "2026-01-01"),
    ("What is on 3 April?", "2026-04-03", "2026-04-04"),
    ("on April 3rd", "2026-04-03", "2026-04-04"),
    ("on the 24th of March", "2026-03-24", "2026-03-25"),
    ("on 2026-03-19", "2026-03-19", "2026-03-20"),
    ("on 24/3", "2026-03-24", "2026-03-25"),
    ("on 5/1/2027", "2027-01-05", "2027-01-06"),
    ("Tuesday 17 March", "2026-03-17", "2026-03-18"),
    ("in the next 3 days", "2026-03-11 09:00", "2026-03-14 09:00"),
    ("over the next two weeks", "2026-03-11 09:00", "2026-03-25 09:00"),
    ("the last 10 days", "2026-03-01 09:00", N),
    ("three days ago", "2026-03-08", "2026-03-09"),
    ("in 2 days", "2026-03-13", "2026-03-14"),
    ("between Monday and Wednesday", "2026-03-16", "2026-03-19"),
    ("from 1 March to 10 March", "2026-03-01", "2026-03-11"),
    ("before Friday", None, "2026-03-13"),
    ("due by Friday", None, "2026-03-14"),
    ("until the end of", None, None),  # no date: not a range
    ("after 20 March", "2026-03-21", None),
    ("What's coming up?", "2026-03-11 09:00", "2026-03-25 09:00"),
    ("what did I get recently", "2026-02-25 09:00", N),
]


def _dt(s: str | None) -> datetime | None:
    if s is None:
        return None
    if s == N:
        return NOW
    fmt = "%Y-%m-%d %H:%M" if " " in s else "%Y-%m-%d"
    return datetime.strptime(s, fmt).replace(tzinfo=TZ)


def test_table_is_big_enough():
    assert len(TABLE) >= 40


@pytest.mark.parametrize(("question", "start", "end"), TABLE, ids=[t[0] for t in TABLE])
def test_time_expression(question, start, end):
    tr = find_time_range(question, NOW)
    if start is None and end is None:
        assert tr is None
        return
    assert tr is not None, question
    assert (tr.start, tr.end) == (_dt(start), _dt(end))


@pytest.mark.parametrize(
    "question",
    [
        "When is my dentist appointment?",
        "What did Anna say about the budget?",
        "May I see the invoice?",
        "Which to-dos are still open?",
        "Who sat on the committee?",
        "What is the wifi password?",
    ],
)
def test_no_time_expression(question):
    assert find_time_range(question, NOW) is None


def test_timezone_of_now_decides_day_boundaries():
    late_utc = datetime(2026, 7, 1, 23, 30, tzinfo=ZoneInfo("UTC"))  # 00:30 on 2 July in London
    tr = find_time_range("today", user_now(late_utc, "Europe/London"))
    assert tr is not None and tr.start == datetime(2026, 7, 2, tzinfo=TZ)
    assert tr.end_epoch - tr.start_epoch == 86400


def test_dst_day_is_23_hours():
    tr = find_time_range(
        "tomorrow", datetime(2026, 3, 28, 12, tzinfo=TZ)
    )  # clocks go forward 29 March
    assert tr is not None and tr.end_epoch - tr.start_epoch == 23 * 3600


def test_where_and_label_and_strip():
    tr = find_time_range("What is on my calendar next week?", NOW)
    assert tr.where() == {
        "$and": [{"date": {"$gte": tr.start_epoch}}, {"date": {"$lt": tr.end_epoch}}]
    }
    assert tr.label() == "2026-03-16 to 2026-03-22"
    assert strip_phrase("What is on my calendar next week?", tr) == "What is on my calendar?"
    since = find_time_range("mail since Monday", NOW)
    assert since.where() == {
        "$and": [{"date": {"$gte": since.start_epoch}}, {"date": {"$lt": since.end_epoch}}]
    }
    before = find_time_range("before Friday", NOW)
    assert before.where() == {"date": {"$lt": before.end_epoch}}
    assert find_time_range("on 3 April", NOW).label() == "2026-04-03"


def test_user_now_accepts_strings_and_naive():
    assert user_now("2026-03-11T09:00:00", "Europe/London") == NOW
    assert user_now(datetime(2026, 3, 11, 9), "Europe/London") == NOW
    with pytest.raises(ValueError):
        find_time_range("today", datetime(2026, 3, 11))
