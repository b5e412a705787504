"""Personal notes (Markdown, plain text, org) and todo.txt files to items.

A note becomes one ``note`` item whose blocks follow its headings (so a chunk says
``notes/projects.md > Budget``), plus one ``todo`` item per checkbox or ``TODO:`` line in it.
A todo.txt file becomes to-do items only. The note's id is its path: editing a note updates it
in place; its content hash decides whether anything is re-embedded.
"""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.core.errors import ItemError
from ingest.items import Block, Item, ParseResult, stable_id
from ingest.sources.charsets import decode_bytes
from ingest.sources.todos import markdown_todos, todo_items, todotxt_todos

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_ORG_HEADING = re.compile(r"^(\*{1,6})\s+(.+?)\s*$")


def _sections(text: str, org: bool) -> list[Block]:
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []
    buf: list[str] = []
    in_fence = False

    def flush() -> None:
        body = "\n".join(buf).strip()
        if body:
            blocks.append(Block(body, " > ".join(t for _, t in stack) or None))
        buf.clear()

    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        m = None if in_fence else (_ORG_HEADING if org else _HEADING).match(line)
        if m:
            flush()
            level = len(m.group(1))
            stack = [s for s in stack if s[0] < level] + [(level, m.group(2))]
            continue
        buf.append(line)
    flush()
    if not blocks and stack:  # headings only: keep them as text
        blocks.append(Block("\n".join(t for _, t in stack)))
    return blocks


def display_path(path: Path, root: Path | None) -> str:
    try:
        return str(path.relative_to(root.parent)) if root else path.name
    except ValueError:
        return path.name


def parse_note(path: Path, data: bytes, *, title: str, tz: ZoneInfo) -> ParseResult:
    text, fallback = decode_bytes(data)
    if not text.strip():
        raise ItemError("empty", "the file has no text")
    org = path.suffix.lower() == ".org"
    blocks = (
        _sections(text, org)
        if path.suffix.lower() in (".md", ".markdown", ".org")
        else [Block(text.strip())]
    )
    meta = {"path": str(path), "locator": str(path), "charset_fallback": fallback}
    note = Item(stable_id("note", str(path)), "note", title, f"Note {title}", blocks, meta)
    todos = todo_items(markdown_todos(text, tz), path=str(path), title=title, tz=tz)
    return ParseResult(items=[note, *todos])


def parse_todotxt(path: Path, data: bytes, *, title: str, tz: ZoneInfo) -> ParseResult:
    text, _ = decode_bytes(data)
    return ParseResult(
        items=todo_items(todotxt_todos(text, tz), path=str(path), title=title, tz=tz)
    )
