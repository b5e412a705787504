"""Calendars (events, recurrence, to-dos) and hand-written to-dos."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ingest.core.errors import ItemError
from ingest.sources.calendar import parse_calendar_bytes
from ingest.sources.todos import markdown_todos, todo_items, todotxt_todos

from .conftest import SAMPLE, SAMPLE_NOW

LON = ZoneInfo("Europe/London")


def personal(**kw):
    data = (SAMPLE / "calendar" / "personal.ics").read_bytes()
    return parse_calendar_bytes(
        data, source_key="cal", locator="cal", timezone="Europe/London", now=SAMPLE_NOW, **kw
    )


def starts(res, title):
    return sorted(
        datetime.fromtimestamp(i.meta["date"], LON) for i in res.items if i.title == title
    )


def test_recurring_events_are_expanded_with_exdate():
    res = personal()
    yoga = starts(res, "Yoga class")
    assert datetime(2026, 3, 17, 18, 30, tzinfo=LON) in yoga
    assert datetime(2026, 3, 24, 18, 30, tzinfo=LON) not in yoga  # EXDATE
    assert all(d.weekday() == 1 for d in yoga)
    assert len(yoga) == 25  # Tuesdays 6 Jan - 30 Jun minus one
    # the occurrence ids are distinct and stable
    ids = [i.item_id for i in res.items if i.title == "Yoga class"]
    assert (
        len(set(ids))
        == len(ids)
        == len({i.item_id for i in personal().items if i.title == "Yoga class"})
    )


def test_window_limits_expansion():
    res = personal(past_days=7, future_days=7)
    standups = starts(res, "Atlas team stand-up")
    assert (
        standups
        and min(standups) >= datetime(2026, 3, 4, tzinfo=LON)
        and max(standups) <= datetime(2026, 3, 18, 23, tzinfo=LON)
    )
    assert starts(res, "Dinner with Jo and Marcus")  # one-off events are kept whatever the window


def test_event_fields_and_all_day():
    res = personal()
    [dinner] = [i for i in res.items if i.title == "Mum's birthday dinner"]
    assert (
        dinner.meta["date_iso"] == "2026-03-14T19:00:00Z"
        and dinner.meta["location"] == "Luigi's, Northcote Road"
    )
    assert "Sat 2026-03-14 19:00-22:00" in dinner.text
    [hike] = [i for i in res.items if i.title == "Peak District hike with Priya"]
    assert hike.meta["all_day"] is True and "(all day)" in hike.context
    assert hike.meta["date"] == int(datetime(2026, 3, 20, tzinfo=LON).timestamp())


def test_vtodo_and_broken_calendars():
    ics = b"""BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t1\r\nSUMMARY:File tax return\r\nDUE;VALUE=DATE:20260131\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\nBEGIN:VEVENT\r\nUID:e1\r\nSUMMARY:No start\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"""
    res = parse_calendar_bytes(ics, source_key="k", locator="k", timezone="Europe/London")
    todo = next(i for i in res.items if i.kind == "todo")
    assert todo.meta["done"] is False and todo.meta["status"] == "open" and todo.meta["due"]
    undated = next(i for i in res.items if i.kind == "event")
    assert undated.title == "No start" and "date" not in undated.meta  # kept, not lost
    with pytest.raises(ItemError) as e:
        parse_calendar_bytes(
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2026XX\r\nX", source_key="k", locator="k"
        )
    assert e.value.reason in ("corrupt", "empty")


def test_markdown_todos_and_due_dates():
    text = "# Plan\n- [ ] Send quotes due:2026-03-11\n* [x] Done thing\n1. [ ] numbered 📅 2026-04-01\nTODO: call Tom by 2026-03-13\n```\n- [ ] in code\n```\n"
    todos = markdown_todos(text, LON)
    assert [(t.text.split()[0], t.done, t.line) for t in todos] == [
        ("Send", False, 2),
        ("Done", True, 3),
        ("numbered", False, 4),
        ("call", False, 5),
    ]
    assert todos[0].due.date().isoformat() == "2026-03-11"
    assert todos[2].due.date().isoformat() == "2026-04-01"
    assert todos[3].due.date().isoformat() == "2026-03-13"


def test_todotxt():
    todos = todotxt_todos((SAMPLE / "todo.txt").read_text(), LON)
    assert len(todos) == 7
    first = todos[0]
    assert first.priority == "A" and first.due.date().isoformat() == "2026-03-20" and not first.done
    assert sum(t.done for t in todos) == 2


def test_todo_ids_survive_lines_moving_and_status_changes_hash():
    a = todo_items(markdown_todos("- [ ] buy milk\n", LON), path="n.md", title="n.md", tz=LON)[0]
    b = todo_items(
        markdown_todos("# new heading\n\n- [x] buy milk\n", LON), path="n.md", title="n.md", tz=LON
    )[0]
    assert a.item_id == b.item_id
    assert a.content_hash() != b.content_hash() and b.meta["done"] is True
