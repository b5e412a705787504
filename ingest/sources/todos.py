"""To-dos written by hand: Markdown checkboxes, ``TODO:`` lines and todo.txt files.

Each to-do becomes a ``todo`` item with its text, open/done status, due date when written
(``due:2026-03-14``, ``📅 2026-03-14``, ``@due(2026-03-14)``, "due 14 March"-style ISO dates
after "due"/"by"), priority, and the source file and line. Ids come from the file and the task
text (not its line), so adding a line above a task does not re-embed it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ingest.items import Block, Item, epoch, iso_utc, stable_id

_CHECKBOX = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\[(?P<mark>[ xX~-])\]\s+(?P<text>.+?)\s*$")
_TODO_LINE = re.compile(r"^\s*(?:[-*+]\s+)?(?:TODO|FIXME|ACTION)\s*[:\-]\s*(?P<text>.+?)\s*$")
_DATE = r"(\d{4}-\d{2}-\d{2})"
_DUE_PATTERNS = [
    re.compile(rf"\bdue:\s*{_DATE}", re.I),
    re.compile(rf"📅\s*{_DATE}"),
    re.compile(rf"@due\(\s*{_DATE}\s*\)", re.I),
    re.compile(rf"\b(?:due|by|deadline)\b:?\s*(?:on\s+)?{_DATE}", re.I),
]
_TODOTXT = re.compile(
    r"^(?P<done>x\s+)?(?:(?P<completed>\d{4}-\d{2}-\d{2})\s+)?(?:\((?P<prio>[A-Z])\)\s+)?"
    r"(?:(?P<created>\d{4}-\d{2}-\d{2})\s+)?(?P<text>.+)$"
)


@dataclass(slots=True)
class Todo:
    text: str
    done: bool
    line: int
    due: datetime | None = None
    priority: str | None = None


def find_due(text: str, tz: ZoneInfo) -> datetime | None:
    for pat in _DUE_PATTERNS:
        m = pat.search(text)
        if m:
            try:
                d = datetime.strptime(m.group(1), "%Y-%m-%d")
            except ValueError:
                continue
            return d.replace(hour=23, minute=59, tzinfo=tz)
    return None


def markdown_todos(text: str, tz: ZoneInfo) -> list[Todo]:
    out: list[Todo] = []
    in_fence = False
    for n, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = _CHECKBOX.match(line)
        if m:
            body = m.group("text")
            out.append(Todo(body, m.group("mark") in "xX", n, find_due(body, tz)))
            continue
        m = _TODO_LINE.match(line)
        if m:
            body = m.group("text")
            out.append(Todo(body, False, n, find_due(body, tz)))
    return out


def todotxt_todos(text: str, tz: ZoneInfo) -> list[Todo]:
    out: list[Todo] = []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        m = _TODOTXT.match(line)
        if not m:
            continue
        body = m.group("text").strip()
        out.append(Todo(body, bool(m.group("done")), n, find_due(body, tz), m.group("prio")))
    return out


def todo_items(todos: list[Todo], *, path: str, title: str, tz: ZoneInfo) -> list[Item]:
    """Items for the to-dos of one file. The nth repeat of the same text gets its own id."""
    seen: Counter[str] = Counter()
    items = []
    for t in todos:
        key = " ".join(t.text.lower().split())
        seen[key] += 1
        status = "done" if t.done else "open"
        due = f" (due {t.due:%a %Y-%m-%d})" if t.due else ""
        prio = f" priority {t.priority}" if t.priority else ""
        meta = {
            "done": t.done,
            "status": status,
            "due": epoch(t.due) if t.due else None,
            "date": epoch(t.due) if t.due else None,
            "date_iso": iso_utc(t.due) if t.due else None,
            "line": t.line,
            "priority": t.priority,
            "path": path,
            "locator": f"{path}:{t.line}",
        }
        text = f"To-do [{status}]{prio}: {t.text}{due}"
        context = f"To-do in {title}, line {t.line}"
        items.append(
            Item(
                stable_id("todo", path, key, str(seen[key])),
                "todo",
                t.text,
                context,
                [Block(text)],
                meta,
            )
        )
    return items
