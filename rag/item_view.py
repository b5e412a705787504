"""Reading one stored item back whole: its chunks merged into the full text (the overlap between
consecutive chunks removed), its metadata, and its file on disk when there is one, so a person
can check a source beyond the snippet that was retrieved."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.store import Store

from .answer import Source


@dataclass
class ItemView:
    source: Source  # the item's first chunk, for the header fields
    text: str  # the whole text, context lines removed
    file: Path | None = None  # the original file, when it is a plain file still on disk

    @property
    def kind(self) -> str:
        return self.source.kind


def _overlap_lines(a: list[str], b: list[str]) -> int:
    for m in range(min(len(a), len(b)), 0, -1):
        if a[-m:] == b[:m]:
            return m
    return 0


def _overlap_chars(a: str, b: str, shortest: int = 12, longest: int = 4000) -> int:
    for m in range(min(len(a), len(b), longest), shortest - 1, -1):
        if a.endswith(b[:m]):
            return m
    return 0


def merge_chunks(bodies: list[str]) -> str:
    """Join consecutive chunk bodies of one text, dropping the overlap each repeats from the
    one before (whole lines when the chunker carried paragraphs, else characters)."""
    out = ""
    for body in bodies:
        if not out:
            out = body
            continue
        a, b = out.split("\n"), body.split("\n")
        m = _overlap_lines(a, b)
        if m:
            rest = "\n".join(b[m:])
            out = out + ("\n" + rest if rest else "")
            continue
        c = _overlap_chars(out, body)
        out = out + body[c:] if c else out + "\n" + body
    return out


def _own_file(source: Source) -> Path | None:
    """The file that is this item alone (a document, a note, a Maildir or .eml message), not a
    whole mbox or calendar that holds many items."""
    if not source.path:
        return None
    p = Path(source.path)
    own = source.kind in ("document", "note") or (
        source.kind == "email" and (p.suffix.lower() == ".eml" or p.parent.name in ("cur", "new"))
    )
    return p if own and p.is_file() else None


def read_item(store: Store, item_id: str, tz: str) -> ItemView | None:
    """The whole item ``item_id`` from the store, or None when it is not there (any more)."""
    rows = sorted(store.chunks_where({"item_id": item_id}), key=lambda r: int(r[2].get("chunk", 0)))
    if not rows:
        return None
    first = Source.from_chunk(rows[0][0], rows[0][1] or "", rows[0][2], tz)
    sections: list[tuple[str, list[str]]] = []
    for _cid, doc, meta in rows:
        doc = doc or ""
        body = doc.split("\n", 1)[1] if "\n" in doc else ""
        section = str(meta.get("section") or "")
        if sections and sections[-1][0] == section:
            sections[-1][1].append(body)
        else:
            sections.append((section, [body]))
    parts = [(f"## {s}\n" if s else "") + merge_chunks(b) for s, b in sections]
    return ItemView(
        source=first, text="\n\n".join(p.strip() for p in parts if p.strip()), file=_own_file(first)
    )
