"""What the API returns: :class:`Source` (one retrieved message, event, file...) and
:class:`Answer` (the text, its cited sources, the filters applied, timings per stage).

Both render safely in Jupyter (``_repr_markdown_``/``_repr_html_``: every piece of stored text is
escaped, so a ``<script>`` in a subject shows as text) and convert to pandas DataFrames.
"""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

KIND_ICONS = {
    "email": "✉️",
    "attachment": "📎",
    "event": "📅",
    "todo": "☑️",
    "note": "📝",
    "document": "📄",
}


def escape_markdown(text: str) -> str:
    """Escape Markdown and HTML specials so stored text is shown, never interpreted."""
    text = html.escape(text, quote=False)
    return re.sub(r"([\\`*_{}\[\]()#+!|~>$])", r"\\\1", text)


class Marked(str):
    """A piece of answer text that carries the spans to highlight (the direct answer's "£180").
    It is a ``str`` everywhere; the page, the terminal and notebooks mark the spans."""

    highlights: tuple[str, ...] = ()

    def __new__(cls, text: str, highlights: tuple[str, ...] | list[str] = ()) -> Marked:
        obj = super().__new__(cls, text)
        obj.highlights = tuple(h for h in highlights if h)
        return obj


def segments(text: str, highlights: tuple[str, ...] | list[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, highlighted) runs: each highlight's first occurrence is marked."""
    spans: list[tuple[int, int]] = []
    for h in sorted({h for h in highlights if h}, key=len, reverse=True):
        i = text.find(h)
        while i >= 0 and any(a < i + len(h) and i < b for a, b in spans):
            i = text.find(h, i + 1)
        if i >= 0:
            spans.append((i, i + len(h)))
    out: list[tuple[str, bool]] = []
    pos = 0
    for a, b in sorted(spans):
        if a > pos:
            out.append((text[pos:a], False))
        out.append((text[a:b], True))
        pos = b
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def marked_markdown(text: str, highlights: tuple[str, ...] | list[str]) -> str:
    """``text`` escaped as Markdown, its highlights in bold."""
    return "".join(
        f"**{escape_markdown(t)}**" if on else escape_markdown(t)
        for t, on in segments(text, highlights)
    )


@dataclass
class Source:
    """One retrieved item (the best chunk of it) and where it came from."""

    item_id: str
    chunk_id: str
    kind: str
    title: str
    text: str
    score: float = 0.0
    n: int = 0  # its number in the prompt, as cited: [n]
    cited: bool = False
    sender: str = ""
    sender_addr: str = ""
    date: datetime | None = None
    end: datetime | None = None
    all_day: bool = False
    location: str = ""
    path: str = ""
    page: int | None = None
    section: str = ""
    thread_id: str = ""
    due: datetime | None = None
    done: bool | None = None
    scores: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_chunk(
        cls, chunk_id: str, text: str, meta: dict[str, Any], tz: str, score: float = 0.0
    ) -> Source:
        zone = ZoneInfo(tz)

        def when(key: str) -> datetime | None:
            v = meta.get(key)
            return datetime.fromtimestamp(v, zone) if isinstance(v, (int, float)) else None

        kind = str(meta.get("kind", ""))
        title = str(meta.get("subject") or meta.get("title") or meta.get("filename") or chunk_id)
        if kind == "todo":
            title = re.sub(r"\s*\bdue:\S+", "", title).strip()
        return cls(
            item_id=str(meta.get("item_id", chunk_id.split("#")[0])),
            chunk_id=chunk_id,
            kind=kind,
            title=title,
            text=text,
            score=score,
            sender=str(
                meta.get("from_name") or meta.get("from_addr") or meta.get("organizer") or ""
            ),
            sender_addr=str(meta.get("from_addr") or ""),
            date=when("date"),
            end=when("end"),
            all_day=bool(meta.get("all_day")),
            location=str(meta.get("location") or ""),
            path=str(meta.get("path") or meta.get("locator") or ""),
            page=int(meta["page"]) if isinstance(meta.get("page"), int) else None,
            section=str(meta.get("section") or ""),
            thread_id=str(meta.get("thread_id") or ""),
            due=when("due"),
            done=meta.get("done") if isinstance(meta.get("done"), bool) else None,
            meta=dict(meta),
        )

    # --- display --------------------------------------------------------------------------------
    @property
    def body(self) -> str:
        """The chunk text without its context line."""
        return self.text.split("\n", 1)[1] if "\n" in self.text else self.text

    @property
    def snippet(self) -> str:
        b = " ".join(self.body.split())
        return b if len(b) <= 240 else b[:237].rsplit(" ", 1)[0] + "…"

    def when(self) -> str:
        if self.date is None:
            return ""
        if self.kind == "event":
            if self.all_day:
                return self.date.strftime("%a %d %b %Y")
            end = (
                f"–{self.end.strftime('%H:%M')}"
                if self.end and self.end.date() == self.date.date()
                else ""
            )
            return self.date.strftime("%a %d %b %Y %H:%M") + end
        if self.kind == "todo":
            return "due " + self.date.strftime("%a %d %b %Y")
        return self.date.strftime("%d %b %Y %H:%M")

    def header(self) -> str:
        """One line: sender · date · subject (mail), start · title · location (event),
        file · page (document)."""
        name = self.path.rsplit("/", 1)[-1] if self.path else ""
        if self.kind in ("email",):
            parts = [self.sender, self.when(), self.title]
        elif self.kind == "attachment":
            parts = [
                self.title,
                f"p. {self.page}" if self.page else "",
                f"from {self.sender}" if self.sender else "",
                self.when(),
            ]
        elif self.kind == "event":
            parts = [self.when(), self.title, self.location]
        elif self.kind == "todo":
            parts = [("✓ " if self.done else "☐ ") + self.title, self.when()]
        else:
            parts = [name or self.title, f"p. {self.page}" if self.page else "", self.section]
        return " · ".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("meta")
        for k in ("date", "end", "due"):
            d[k] = d[k].isoformat() if d[k] else None
        d["header"] = self.header()
        d["snippet"] = self.snippet
        return d

    def _repr_markdown_(self) -> str:
        icon = KIND_ICONS.get(self.kind, "•")
        num = f"[{self.n}] " if self.n else ""
        return (
            f"{icon} {num}**{escape_markdown(self.header())}**  \n{escape_markdown(self.snippet)}"
        )


@dataclass
class Answer:
    """An answer with its sources. ``str(answer)`` is the text plus a source list."""

    question: str
    text: str
    sources: list[Source] = field(default_factory=list)
    filters: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    backend: str = ""
    standalone_question: str = ""
    abstained: bool = False
    abstain_reason: str = ""  # why pdq found no answer in the store (empty when it answered)
    listing: bool = False  # the text is a list built from metadata (schedule, open to-dos)
    warnings: list[str] = field(default_factory=list)
    backend_fallback: str = ""  # set when the model's answer was replaced (e.g. "extractive")
    highlights: list[str] = field(default_factory=list)  # the spans that answer the question

    @property
    def cited(self) -> list[Source]:
        return [s for s in self.sources if s.cited]

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "sources"}
        d["sources"] = [s.to_dict() for s in self.sources]
        return d

    def to_dataframe(self) -> Any:
        return sources_dataframe(self.sources)

    def __str__(self) -> str:
        lines = [self.text, ""]
        for s in self.sources:
            lines.append(f"[{s.n}] {s.header()}" if s.n else f"- {s.header()}")
        return "\n".join(lines).rstrip()

    def _repr_markdown_(self) -> str:
        out = [marked_markdown(self.text, self.highlights).replace("\n", "  \n"), ""]
        if self.filters:
            out.append(
                "*"
                + escape_markdown(", ".join(f"{k}: {v}" for k, v in self.filters.items()))
                + "*\n"
            )
        out += [s._repr_markdown_() + "\n" for s in self.sources]
        return "\n".join(out)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<li>{html.escape(KIND_ICONS.get(s.kind, ''))} {f'[{s.n}] ' if s.n else ''}<b>{html.escape(s.header())}</b>"
            f"<br><small>{html.escape(s.snippet)}</small></li>"
            for s in self.sources
        )
        filt = html.escape(", ".join(f"{k}: {v}" for k, v in self.filters.items()))
        text = "".join(
            f"<b>{html.escape(t)}</b>" if on else html.escape(t)
            for t, on in segments(self.text, self.highlights)
        ).replace("\n", "<br>")
        return f"<div><p>{text}</p>{f'<p><i>{filt}</i></p>' if filt else ''}<ol style='list-style:none'>{rows}</ol></div>"


def sources_dataframe(sources: list[Source]) -> Any:
    """Sources as a pandas DataFrame (one row per source)."""
    import pandas as pd

    cols = [
        "n",
        "kind",
        "title",
        "sender",
        "date",
        "location",
        "path",
        "page",
        "score",
        "cited",
        "item_id",
        "snippet",
    ]
    return pd.DataFrame([{c: getattr(s, c) for c in cols} for s in sources], columns=cols)
