"""Text for the page, built without Streamlit: every piece of stored text is escaped here into
Markdown that shows it as written (a ``<script>`` in a subject stays text, ``![x](http://...)``
never becomes an image the browser would fetch, ``$5 and $10`` is not maths). The page only
passes these strings to ``st.markdown``/``st.caption``; ``unsafe_allow_html`` is never used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from rag.answer import KIND_ICONS, Answer, Source, escape_markdown, marked_markdown
from rag.glance import Glance
from rag.status import StoreStatus
from rag.text import terms

KIND_LABELS = {
    "email": "Mail",
    "attachment": "Attachments",
    "event": "Events",
    "todo": "To-dos",
    "note": "Notes",
    "document": "Documents",
}
FULL_LABELS = {
    "email": "Show the whole message",
    "attachment": "Show the whole attachment",
    "event": "Show the event details",
    "todo": "Show the to-do",
    "note": "Show the whole note",
    "document": "Show the whole document",
}
_WORD = re.compile(r"[\w'£$€]+")


def md(text: str) -> str:
    """Stored text as Markdown that displays it literally (line breaks kept)."""
    return escape_markdown(text).replace("\n", "  \n")


def answer_md(text: str, highlights: Iterable[str] = ()) -> str:
    """The answer's text as Markdown, the spans that answer the question in bold: a direct
    answer's streamed piece carries them (``rag.answer.Marked``), a finished Answer lists them."""
    marks = tuple(highlights) or tuple(getattr(text, "highlights", ()))
    return marked_markdown(str(text), marks).replace("\n", "  \n")


def highlight(text: str, query: str) -> str:
    """``text`` escaped, with the words that match the question's content words marked."""
    wanted = terms(query)
    out: list[str] = []
    pos = 0
    for m in _WORD.finditer(text):
        out.append(escape_markdown(text[pos : m.start()]))
        word = m.group(0)
        hit = bool(terms(word) & wanted)
        esc = escape_markdown(word)
        out.append(f":orange-background[{esc}]" if hit else esc)
        pos = m.end()
    out.append(escape_markdown(text[pos:]))
    return "".join(out).replace("\n", "  \n")


def card_label(s: Source) -> str:
    """The expander label of a source card: icon, citation number, header line."""
    num = f"[{s.n}] " if s.n else ""
    return f"{KIND_ICONS.get(s.kind, '•')} {num}{escape_markdown(s.header())}"


def card_facts(s: Source) -> str:
    """A second line of facts under the snippet: where the item lives, who, when."""
    bits: list[str] = []
    if s.kind in ("email", "attachment"):
        who = (
            f"{s.sender} <{s.sender_addr}>"
            if s.sender_addr and s.sender != s.sender_addr
            else s.sender
        )
        if who:
            bits.append(f"from {who}")
        folder = s.meta.get("folder")
        if folder:
            bits.append(f"folder {folder}")
    if s.kind == "event":
        if s.location:
            bits.append(f"at {s.location}")
        organizer = s.meta.get("organizer")
        if organizer:
            bits.append(f"organiser {organizer}")
    if s.page:
        bits.append(f"page {s.page}")
    if s.meta.get("ocr"):
        bits.append("text read by OCR")
    if s.path and s.kind not in ("email", "attachment"):  # a Maildir file name says nothing
        bits.append(s.path.rsplit("/", 1)[-1])
    return escape_markdown(" · ".join(str(b) for b in bits))


def scores_line(s: Source) -> str:
    parts = [f"{k} {v:.4g}" for k, v in sorted(s.scores.items())]
    return escape_markdown(
        "scores: " + ", ".join(parts) if parts else "no scores (listed from metadata)"
    )


def filters_line(filters: dict[str, str]) -> str:
    """'Filters: dates: 2026-03-09 to 2026-03-15 · kind: event' (escaped), or ''."""
    if not filters:
        return ""
    return "Filters applied — " + escape_markdown(
        " · ".join(f"{k}: {v}" for k, v in filters.items())
    )


def timings_line(answer: Answer) -> str:
    stages = " · ".join(f"{k} {v * 1000:.0f} ms" for k, v in answer.timings.items())
    extra = f" — backend {answer.backend}" + (
        f" (fell back to {answer.backend_fallback})" if answer.backend_fallback else ""
    )
    asked = (
        f" — searched for: “{answer.standalone_question}”"
        if answer.standalone_question and answer.standalone_question != answer.question
        else ""
    )
    return escape_markdown(stages + extra + asked)


def status_lines(st_: StoreStatus, generator: str) -> list[str]:
    """The sidebar's store summary, one Markdown line each."""
    if not st_.exists:
        return ["No store yet."]
    total = sum(st_.items.values())
    kinds = " · ".join(
        f"{KIND_ICONS.get(k, '•')} {v} {KIND_LABELS.get(k, k).lower()}"
        for k, v in sorted(st_.items.items())
    )
    lines = [
        f"**{total}** items in **{st_.chunks}** chunks from {st_.sources} files",
        escape_markdown(kinds) or "empty",
    ]
    if st_.first_date:
        lines.append(escape_markdown(f"dates {st_.first_date} to {st_.last_date}"))
    lines.append(escape_markdown(f"last sync: {st_.last_sync or 'never'}"))
    lines.append(escape_markdown(f"embeddings: {st_.embedding_model}"))
    if st_.semantic_line:
        lines.append(escape_markdown(st_.semantic_line))
    lines.append(escape_markdown(f"answers: {generator}"))
    return lines


def _event_line(s: Source, with_day: bool) -> str:
    when = ("all day" if s.all_day else s.date.strftime("%H:%M")) if s.date else ""
    if with_day and s.date:
        when = s.date.strftime("%a %d %b ") + when
    where = f" — {s.location}" if s.location else ""
    return f"- **{escape_markdown(when.strip())}** {escape_markdown(s.title + where)}"


def glance_sections(g: Glance) -> list[tuple[str, list[str]]]:
    """(heading, Markdown lines) for today, the coming days and the open to-dos."""
    today = [_event_line(s, False) for s in g.today] or ["- nothing scheduled"]
    coming = [_event_line(s, True) for s in g.upcoming] or ["- nothing scheduled"]
    todos: list[str] = []
    for s in g.todos:
        line = f"- {escape_markdown(s.title)}"
        if s.date:
            line += escape_markdown(f" — due {s.date.strftime('%a %d %b')}")
            if g.overdue(s):
                line += " :red[overdue]"
        todos.append(line)
    return [
        (f"Today, {g.now.strftime('%a %d %b')}", today),
        (f"Next {g.days} days", coming),
        (f"Open to-dos ({len(g.todos)})", todos or ["- nothing open"]),
    ]


def failures(report: object) -> Iterable[str]:
    for f in getattr(report, "failures", []):
        yield escape_markdown(f"{f.locator}: {f.reason}" + (f" ({f.detail})" if f.detail else ""))


def now_label(now: datetime) -> str:
    return now.strftime("%A %d %B %Y, %H:%M")
