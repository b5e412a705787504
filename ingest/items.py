"""The data model between parsing and chunking: an :class:`Item` made of :class:`Block`\\ s.

An item is one thing a person would name: a message, an attachment, a calendar event (one
occurrence), a to-do, a note, a document. Parsers produce items; the chunker turns an item's
blocks into chunks; the store keeps the item's metadata on each chunk.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

KINDS = ("email", "attachment", "event", "todo", "note", "document")
# Where an item was found is not part of what it is: moving a message between folders, a
# Maildir flag rename or an mbox offset shift must not count as a change (no re-embedding).
LOCATION_KEYS = frozenset({"path", "locator", "folder", "folders"})
# metadata derived from the text and date already hashed (ingest/sources/mentions.py): not part of the
# content hash, so adding it does not make every stored item look changed
DERIVED_KEYS = frozenset({"mentions"})


@dataclass(slots=True)
class Block:
    """A run of text with its place in the item: section path and page when known."""

    text: str
    section: str | None = None
    page: int | None = None
    ocr: bool = False  # read from a picture of the page by OCR


@dataclass(slots=True)
class Item:
    """One parsed thing. ``item_id`` is stable across runs; ``meta`` holds scalar metadata."""

    item_id: str
    kind: str
    title: str
    context: str  # one line that makes each chunk stand on its own, e.g. 'Email from Anna, ...'
    blocks: list[Block]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks if b.text)

    def content_hash(self) -> str:
        """Hash of everything that ends up in the store for this item (text and metadata)."""
        h = hashlib.sha256()
        h.update(self.kind.encode())
        h.update(self.title.encode("utf-8", "surrogatepass"))
        h.update(self.context.encode("utf-8", "surrogatepass"))
        for b in self.blocks:
            h.update(b"\x00" + b.text.encode("utf-8", "surrogatepass"))
            h.update(f"\x01{b.section}\x01{b.page}".encode("utf-8", "surrogatepass"))
        where_from = {k: v for k, v in self.meta.items() if k not in LOCATION_KEYS | DERIVED_KEYS}
        h.update(json.dumps(where_from, sort_keys=True, default=str).encode())
        return h.hexdigest()


def stable_id(prefix: str, *parts: str | bytes) -> str:
    """A short, stable id from content: ``prefix:`` + 20 hex chars of SHA-256."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return f"{prefix}:{h.hexdigest()[:20]}"


def epoch(dt: datetime) -> int:
    """Timezone-aware datetime to UTC epoch seconds (naive datetimes are taken as UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def iso_utc(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def clean_meta(meta: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """Chroma accepts only scalar, non-None metadata values: drop the rest, stringify lists."""
    out: dict[str, str | int | float | bool] = {}
    for k, v in meta.items():
        if v is None or v == "" or v == []:
            continue
        if isinstance(v, bool | int | float | str):
            out[k] = v
        elif isinstance(v, list | tuple | set):
            out[k] = "; ".join(str(x) for x in v)
        else:
            out[k] = str(v)
    return out


@dataclass(slots=True)
class Problem:
    """Something inside a source that could not be ingested (reported, never fatal)."""

    locator: str  # path, or path#message-key, or path > attachment name
    reason: str  # short category: "encrypted", "corrupt", "too large", "no text", ...
    detail: str = ""
    unsupported: bool = False  # a type pdq does not read (not a failure)


@dataclass(slots=True)
class ParseResult:
    items: list[Item] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def extend(self, other: ParseResult) -> None:
        self.items.extend(other.items)
        self.problems.extend(other.problems)
