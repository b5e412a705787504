"""Read one discovered source file into items: the dispatch from file kind to parser.

:func:`read_source` yields :class:`ParseResult`\\ s, one per message for mailboxes (so a huge
mbox streams) and one for any other file. A file that cannot be read at all becomes a
:class:`Problem`; nothing here raises for bad input.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ingest.core.errors import ItemError
from ingest.core.settings import Settings
from ingest.items import ParseResult, Problem
from ingest.sources.calendar import parse_calendar_bytes
from ingest.sources.charsets import looks_binary
from ingest.sources.discovery import SourceFile
from ingest.sources.documents import parse_document_file
from ingest.sources.mail import MailContext, parse_message_bytes, parse_msg_file
from ingest.sources.mailboxes import iter_mbox
from ingest.sources.notes import display_path, parse_note, parse_todotxt
from ingest.sources.timelimit import time_limit

logger = logging.getLogger(__name__)


def _fail(locator: str, exc: BaseException) -> ParseResult:
    if isinstance(exc, ItemError):
        return ParseResult(
            problems=[
                Problem(locator, exc.reason, exc.detail, unsupported=exc.reason == "unsupported")
            ]
        )
    if isinstance(exc, MemoryError | RecursionError):
        return ParseResult(problems=[Problem(locator, "too complex", type(exc).__name__)])
    if isinstance(exc, OSError):
        return ParseResult(problems=[Problem(locator, "unreadable", f"{exc.strerror or exc}")])
    return ParseResult(problems=[Problem(locator, "corrupt", f"{type(exc).__name__}: {exc}"[:300])])


def read_source(src: SourceFile, settings: Settings, *, start: int = 0) -> Iterator[ParseResult]:
    """Parse ``src``. For an mbox, ``start`` is the byte offset to resume from."""
    locator = str(src.path)
    try:
        if src.kind == "mbox":
            yield from _mbox(src, settings, start)
        elif src.kind in ("message", "msg"):
            with time_limit(settings.max_file_seconds):
                result = _message(src, settings)
            yield result
        elif src.kind == "unsupported":
            yield ParseResult(
                problems=[
                    Problem(
                        locator,
                        "unsupported type",
                        src.path.suffix or "no extension",
                        unsupported=True,
                    )
                ]
            )
        else:
            size = src.path.stat().st_size
            if size > settings.max_file_mb * 1024 * 1024:
                raise ItemError(
                    "too large", f"{size / 1e6:.0f} MB is over max_file_mb={settings.max_file_mb:g}"
                )
            with time_limit(
                settings.max_file_seconds
            ):  # parse fully inside the limit, yield outside it
                result = _file(src, settings)
            yield result
    except Exception as exc:
        yield _fail(locator, exc)


def _mail_context(src: SourceFile, settings: Settings, locator: str) -> MailContext:
    return MailContext(
        str(src.path),
        src.folder,
        locator,
        timezone=settings.timezone,
        max_attachment_bytes=int(settings.max_attachment_mb * 1024 * 1024),
        now=settings.current_time(),
        calendar_past_days=settings.calendar_past_days,
        calendar_future_days=settings.calendar_future_days,
        ocr=settings.ocr_languages if settings.ocr else "",
        ocr_min_bytes=int(settings.ocr_min_image_kb * 1024),
    )


_STATUS = re.compile(rb"^(X-Status|Status):[ \t]*([A-Za-z]*)", re.MULTILINE | re.IGNORECASE)
_MOZILLA = re.compile(rb"^X-Mozilla-Status:[ \t]*([0-9A-Fa-f]{4})", re.MULTILINE | re.IGNORECASE)


def marked_deleted(raw: bytes) -> bool:
    """An mbox message the mail client marked deleted but has not expunged yet: mutt's and
    Pine's ``Status``/``X-Status: D``, Thunderbird's ``X-Mozilla-Status`` expunged bit (0x0008)."""
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    if any(b"D" in flags for _, flags in _STATUS.findall(head)):
        return True
    m = _MOZILLA.search(head)
    return m is not None and bool(int(m.group(1), 16) & 0x0008)


def _mbox(src: SourceFile, settings: Settings, start: int) -> Iterator[ParseResult]:
    for offset, raw in iter_mbox(src.path, start):
        if marked_deleted(raw):  # deleted in the mail client: not searchable any more
            continue
        loc = f"{src.path}#{offset}"
        try:
            with time_limit(settings.max_file_seconds):  # per message (its attachments included)
                result = parse_message_bytes(raw, _mail_context(src, settings, loc))
        except Exception as exc:  # one bad message never stops the mailbox
            result = _fail(loc, exc)
        yield result


def _message(src: SourceFile, settings: Settings) -> ParseResult:
    ctx = _mail_context(src, settings, str(src.path))
    if src.kind == "message":
        raw = src.path.read_bytes()
        if looks_binary(raw):
            raise ItemError("not text", "binary content, not a mail message")
        return parse_message_bytes(raw, ctx)
    return parse_msg_file(str(src.path), ctx)


def _file(src: SourceFile, settings: Settings) -> ParseResult:
    """A calendar, a note, a todo.txt or a document, whole."""
    path, locator = src.path, str(src.path)
    tz = ZoneInfo(settings.timezone)
    title = display_path(path, src.root)
    if src.kind == "calendar":
        return parse_calendar_bytes(
            path.read_bytes(),
            source_key=str(path),
            locator=locator,
            timezone=settings.timezone,
            now=settings.current_time(),
            past_days=settings.calendar_past_days,
            future_days=settings.calendar_future_days,
        )
    if src.kind == "todotxt":
        return parse_todotxt(path, path.read_bytes(), title=title, tz=tz)
    if src.kind == "note":
        return parse_note(path, path.read_bytes(), title=title, tz=tz)
    if src.kind == "document":
        return _document(path, title, settings.ocr_languages if settings.ocr else "")
    if src.kind == "image":
        return _image(path, title, settings)
    return ParseResult(problems=[Problem(locator, "unsupported type", src.kind, unsupported=True)])


def _document(path: Path, title: str, ocr: str = "") -> ParseResult:
    from ingest.items import Item, stable_id

    blocks = parse_document_file(path, ocr)
    meta: dict[str, Any] = {"path": str(path), "locator": str(path), "filename": path.name}
    pages = [b.page for b in blocks if b.page]
    if pages:
        meta["pages"] = max(pages)
    if any(b.ocr for b in blocks):
        meta["ocr"] = True
    return ParseResult(
        items=[
            Item(stable_id("doc", str(path)), "document", title, f"Document {title}", blocks, meta)
        ]
    )


def _image(path: Path, title: str, settings: Settings) -> ParseResult:
    """A picture file (a scanned letter, a photographed receipt) read by OCR."""
    from ingest.items import Item, stable_id
    from ingest.sources import ocr

    if not settings.ocr:
        return ParseResult(
            problems=[
                Problem(str(path), "unsupported type", "image (OCR is off)", unsupported=True)
            ]
        )
    if path.stat().st_size < settings.ocr_min_image_kb * 1024:
        return ParseResult(
            problems=[Problem(str(path), "unsupported type", "small image", unsupported=True)]
        )
    blocks = ocr.image_text(path.read_bytes(), settings.ocr_languages)
    meta: dict[str, Any] = {
        "path": str(path),
        "locator": str(path),
        "filename": path.name,
        "ocr": True,
    }
    return ParseResult(
        items=[Item(stable_id("doc", str(path)), "document", title, f"Image {title}", blocks, meta)]
    )
