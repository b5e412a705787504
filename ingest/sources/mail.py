"""One email message (raw RFC 5322 bytes or an Outlook .msg) to pdq items.

Produces the email item (headers decoded, body as text with quoted history split off), one
``attachment`` item per readable attachment, and ``event`` items for ``text/calendar`` parts,
all linked to the message by ``parent_id``. Uses the stdlib ``email`` parser with the fast
``compat32`` policy and decodes headers and bodies itself, so a broken header or charset costs a
note in the metadata, never the message.
"""

from __future__ import annotations

import email
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import PurePath
from typing import Any
from zoneinfo import ZoneInfo

from ingest.items import Block, Item, ParseResult, Problem, epoch, iso_utc, stable_id
from ingest.sources.charsets import decode_bytes, decode_header_value, mostly_text
from ingest.sources.discovery import CALENDAR_EXTENSIONS
from ingest.sources.html_text import html_to_text
from ingest.sources.quoting import split_reply

logger = logging.getLogger(__name__)

_SUBJECT_PREFIX = re.compile(
    r"^\s*((re|fw|fwd|aw|wg|sv|vs|antw|tr|rif|r)\s*(\[\d+\])?\s*:\s*)+", re.I
)
_MSGID = re.compile(r"<[^<>\s]+>")


@dataclass(slots=True)
class MailContext:
    """Where a message came from and what the parser needs to know."""

    source_path: str
    folder: str
    locator: str  # path, or path#offset for an mbox message
    timezone: str = "UTC"
    max_attachment_bytes: int = 25 * 1024 * 1024
    notes: list[str] = field(default_factory=list)
    # for .ics attachments, as for calendar files: "now" (None: the clock) and the window of
    # recurring occurrences stored around it
    now: datetime | None = None
    calendar_past_days: int = 365
    calendar_future_days: int = 730
    ocr: str = ""  # Tesseract languages for scanned PDFs and image attachments; "" = no OCR
    ocr_min_bytes: int = 8 * 1024  # smaller images (logos, icons) are not OCR'd


def normalise_subject(subject: str) -> str:
    return " ".join(_SUBJECT_PREFIX.sub("", subject).split()).lower()


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    out = []
    try:
        pairs = getaddresses(values)
    except Exception:
        return [("", v) for v in values if v]
    for name, addr in pairs:
        name = name.strip().strip('"')
        if name or addr:
            out.append((name, addr.strip().lower()))
    return out


def _fmt_addr(name: str, addr: str) -> str:
    if name and addr:
        return f"{name} <{addr}>"
    return name or addr


def _short(pairs: list[tuple[str, str]], limit: int = 3) -> str:
    names = [n or a for n, a in pairs]
    if len(names) > limit:
        return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
    return ", ".join(names)


def _parse_date(msg: Message, tz: ZoneInfo) -> datetime | None:
    candidates = [msg.get("Date")]
    # fall back to the newest Received: stamp (the part after the last ';')
    received = msg.get_all("Received") or []
    candidates += [str(r).rsplit(";", 1)[-1] for r in received[:1]]
    for raw in candidates:
        if not raw:
            continue
        try:
            dt = parsedate_to_datetime(str(raw).strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
        if dt is None:
            continue
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        if 1970 <= dt.year <= 2200:
            return dt
    return None


def _part_text(part: Message, ctx: MailContext) -> str:
    payload: Any = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        payload = raw.encode("utf-8", "replace") if isinstance(raw, str) else b""
    try:
        charset = part.get_content_charset()
    except Exception:  # a malformed charset parameter
        charset = None
    text, fallback = decode_bytes(payload, charset)
    if fallback:
        ctx.notes.append(fallback)
    if not mostly_text(text):  # a binary blob labelled text/plain: not indexed
        ctx.notes.append("a text part held binary content (not text): left out")
        return ""
    return text


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name:
        return decode_header_value(name)[0] or None
    return None


_SIGNATURE_TYPES = (
    "application/pgp-signature",
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
)
_ENCRYPTED_TYPES = (
    "application/pgp-encrypted",
    "application/pkcs7-mime",
    "application/x-pkcs7-mime",
)


def _is_attachment(part: Message) -> bool:
    disp = str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    if disp == "attachment":
        return True
    return bool(_filename(part)) and part.get_content_type() not in ("text/plain", "text/html")


def _leaves(part: Message) -> list[Message]:
    """The leaf parts of a MIME tree, not descending into attached messages."""
    if part.get_content_type() == "message/rfc822" or not part.is_multipart():
        return [part]
    payload = part.get_payload()
    if not isinstance(payload, list):
        return [part]
    out: list[Message] = []
    for sub in payload:
        if isinstance(sub, Message):
            out.extend(_leaves(sub))
    return out


def _choose_body(msg: Message, ctx: MailContext) -> tuple[str, bool, list[Message]]:
    """(body text, was_html, attachment parts). Prefers text/plain, else HTML made text."""
    plain: str | None = None
    html: str | None = None
    attachments: list[Message] = []
    encrypted = msg.get_content_type() == "multipart/encrypted"
    for part in _leaves(msg):
        ctype = part.get_content_type()
        if ctype in _SIGNATURE_TYPES:
            continue
        if ctype in _ENCRYPTED_TYPES:
            encrypted = True
        elif ctype in ("message/rfc822", "text/calendar") or _is_attachment(part):
            attachments.append(part)
        elif ctype == "text/plain" and plain is None:
            plain = _part_text(part, ctx)
        elif ctype == "text/html" and html is None:
            html = _part_text(part, ctx)
        elif part.get_content_maintype() in ("application", "text"):
            attachments.append(part)  # text/x-diff, text/x-ruby-script...: text to read
    if plain is not None and plain.strip():
        return plain, False, attachments
    if html is not None and html.strip():
        return html_to_text(html), True, attachments
    if encrypted:
        return "(encrypted message: content not indexed)", False, attachments
    return plain or "", False, attachments


def parse_message_bytes(raw: bytes, ctx: MailContext) -> ParseResult:
    """Parse one RFC 5322 message. Per-message problems come back in the result, not raised."""
    msg = email.message_from_bytes(raw, policy=compat32)
    return _message_items(msg, ctx)


def _thread_id(message_id: str, refs: list[str], in_reply_to: list[str], subject: str) -> str:
    """The thread: its first message's id (References, In-Reply-To), else the subject for a
    reply ("Re: ...") or a message without an id, else the message itself."""
    root = (refs + in_reply_to)[0] if refs or in_reply_to else ""
    if root:
        return stable_id("thread", root.lower())
    if _SUBJECT_PREFIX.match(subject) or not message_id:
        return stable_id("thread", "subject:" + normalise_subject(subject))
    return stable_id("thread", message_id.lower())


def _context_line(
    frm: tuple[str, str], to: list[tuple[str, str]], local_date: datetime | None, subject: str
) -> str:
    """'Email from Anna Lee to Sam Carter, 2026-03-10 16:50, "Budget review prep"'."""
    who = frm[0] or frm[1] or "unknown sender"
    to_short = _short(to) or "(no recipient)"
    context = (
        f"Email from {who} to {to_short}, {local_date:%Y-%m-%d %H:%M}"
        if local_date
        else f"Email from {who} to {to_short}"
    )
    return context + (f', "{subject}"' if subject else ", (no subject)")


def _message_items(msg: Message, ctx: MailContext) -> ParseResult:
    tz = ZoneInfo(ctx.timezone)
    subject, fb = decode_header_value(msg.get("Subject"))
    if fb:
        ctx.notes.append(f"subject {fb}")

    def hdr(name: str) -> list[str]:
        vals = msg.get_all(name) or []
        return [decode_header_value(v)[0] for v in vals]

    sender = _addresses(hdr("From")) or _addresses(hdr("Sender"))
    to = _addresses(hdr("To"))
    cc = _addresses(hdr("Cc"))
    date = _parse_date(msg, tz)
    msgid_m = _MSGID.search(str(msg.get("Message-ID") or msg.get("Message-Id") or ""))
    message_id = msgid_m.group(0) if msgid_m else ""
    refs = _MSGID.findall(str(msg.get("References") or ""))
    in_reply_to = _MSGID.findall(str(msg.get("In-Reply-To") or ""))

    body, was_html, attachment_parts = _choose_body(msg, ctx)
    reply = split_reply(body)

    if message_id:
        item_id = stable_id("mail", message_id.lower())
    else:  # no Message-ID: content hash of the headers that identify it plus the body
        item_id = stable_id("mail", str(msg.get("From")), str(msg.get("Date")), subject, body)
    thread_id = _thread_id(message_id, refs, in_reply_to, subject)
    frm = sender[0] if sender else ("", "")
    context = _context_line(frm, to, date.astimezone(tz) if date else None, subject)

    blocks = [Block(reply.new_text)] if reply.new_text.strip() else []
    if reply.quoted_excerpt:
        blocks.append(Block(f"(In reply to: {reply.quoted_excerpt} ...)"))

    meta: dict[str, Any] = {
        "subject": subject,
        "from": _fmt_addr(*frm),
        "from_name": frm[0],
        "from_addr": frm[1],
        "to": [_fmt_addr(n, a) for n, a in to],
        "cc": [_fmt_addr(n, a) for n, a in cc],
        "date": epoch(date) if date else None,
        "date_iso": iso_utc(date) if date else None,
        "message_id": message_id,
        "in_reply_to": in_reply_to[0] if in_reply_to else None,
        "thread_id": thread_id,
        "folder": ctx.folder,
        "path": ctx.source_path,
        "locator": ctx.locator,
        "html_only": was_html or None,
        "has_quote": reply.had_quote or None,
    }
    email_item = Item(item_id, "email", subject or "(no subject)", context, blocks, meta)
    result = ParseResult(items=[email_item])
    _add_attachments(result, email_item, attachment_parts, ctx)
    if ctx.notes:
        meta["charset_fallback"] = "; ".join(dict.fromkeys(ctx.notes))
    return result


def _add_attachments(
    result: ParseResult, email_item: Item, parts: list[Message], ctx: MailContext
) -> None:
    """The attachments' own items, and their names on the message."""
    names = []
    for idx, part in enumerate(parts):
        name = _filename(part) or f"part-{idx + 1}"
        names.append(name)
        result.extend(_attachment_items(part, name, idx, email_item, ctx))
    if names:
        email_item.meta["attachments"] = names


def _attached_message(
    part: Message, name: str, parent: Item, ctx: MailContext, locator: str
) -> ParseResult:
    """An attached message becomes an attachment of its carrier, its own headers kept."""
    inner = part.get_payload()
    inner_msg = inner[0] if isinstance(inner, list) and inner else None
    if not isinstance(inner_msg, Message):
        return ParseResult()
    sub = replace(ctx, locator=locator, notes=[])
    nested = _message_items(inner_msg, sub)
    out = ParseResult(problems=nested.problems)
    for it in nested.items:
        if it.kind == "email":
            it.kind = "attachment"
            it.item_id = stable_id("att", parent.item_id, it.item_id)
            it.meta.update(parent_id=parent.item_id, parent_subject=parent.title, filename=name)
        out.items.append(it)
    return out


def _parent_meta(parent: Item, ctx: MailContext, name: str) -> dict[str, Any]:
    """What an attachment inherits from the message it came with."""
    inherited = ("from", "from_name", "from_addr", "date", "date_iso", "thread_id")
    return {
        "parent_id": parent.item_id,
        "parent_subject": parent.title,
        **{k: parent.meta.get(k) for k in inherited},
        "folder": ctx.folder,
        "path": ctx.source_path,
        "filename": name,
    }


def _attachment_items(
    part: Message, name: str, idx: int, parent: Item, ctx: MailContext
) -> ParseResult:
    from ingest.sources.calendar import parse_calendar_bytes
    from ingest.sources.discovery import IMAGE_EXTENSIONS
    from ingest.sources.documents import SUPPORTED_DOC_EXTENSIONS, parse_document_bytes

    locator = f"{ctx.locator} > {name}"
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        return _attached_message(part, name, parent, ctx, locator)
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    if len(data) > ctx.max_attachment_bytes:
        return ParseResult(
            problems=[
                Problem(locator, "too large", f"{len(data) / 1e6:.1f} MB attachment over the limit")
            ]
        )
    ext = PurePath(name).suffix.lower()
    parent_meta = _parent_meta(parent, ctx, name)
    if ctype == "text/calendar" or ext in CALENDAR_EXTENSIONS:
        res = parse_calendar_bytes(
            data,
            source_key=parent.item_id + "/" + name,
            locator=locator,
            timezone=ctx.timezone,
            now=ctx.now,
            past_days=ctx.calendar_past_days,
            future_days=ctx.calendar_future_days,
        )
        for it in res.items:
            it.meta.update({k: v for k, v in parent_meta.items() if k not in ("date", "date_iso")})
        return res
    if part.get_content_maintype() == "text" and ctype != "text/html":
        ctype = "text/plain"  # any text/* part (a patch, a script, a log) is read as text
    if part.get_content_maintype() == "image" or ext in IMAGE_EXTENSIONS:
        return _image_attachment(data, name, ctype, parent, parent_meta, ctx, locator)
    if ext not in SUPPORTED_DOC_EXTENSIONS and ctype not in (
        "text/plain",
        "text/html",
        "application/pdf",
    ):
        return ParseResult(problems=[Problem(locator, "unsupported type", ctype, unsupported=True)])
    try:
        blocks = parse_document_bytes(data, name, ctype, ocr=ctx.ocr)
    except Exception as exc:  # ItemError or a library failure on a hostile file
        from ingest.core.errors import ItemError

        reason = exc.reason if isinstance(exc, ItemError) else "corrupt"
        detail = exc.detail if isinstance(exc, ItemError) else f"{type(exc).__name__}: {exc}"[:300]
        # an empty attachment is nothing to read, not a failure
        return ParseResult(
            problems=[
                Problem(locator, reason, detail, unsupported=reason in ("empty", "unsupported"))
            ]
        )
    return ParseResult(items=[_attachment_item(data, name, blocks, parent, parent_meta)])


def _attachment_item(
    data: bytes, name: str, blocks: list[Block], parent: Item, meta: dict[str, Any]
) -> Item:
    att_id = stable_id("att", parent.item_id, name, data)
    sender = parent.meta.get("from_name") or parent.meta.get("from_addr") or "unknown sender"
    context = f'Attachment "{name}" of email from {sender}, "{parent.title}"'
    if any(b.ocr for b in blocks):
        meta = {**meta, "ocr": True}
    return Item(att_id, "attachment", name, context, blocks, meta)


def _image_attachment(
    data: bytes,
    name: str,
    ctype: str,
    parent: Item,
    meta: dict[str, Any],
    ctx: MailContext,
    locator: str,
) -> ParseResult:
    """A scanned invoice, a ticket, a photo of a letter: read by OCR when big enough."""
    from ingest.core.errors import ItemError
    from ingest.sources import ocr

    if not ctx.ocr or len(data) < ctx.ocr_min_bytes:
        why = "OCR is off" if not ctx.ocr else "small image (a logo or an icon?)"
        return ParseResult(
            problems=[Problem(locator, "unsupported type", f"{ctype}: {why}", unsupported=True)]
        )
    try:
        blocks = ocr.image_text(data, ctx.ocr)
    except ItemError as exc:
        return ParseResult(problems=[Problem(locator, exc.reason, exc.detail)])
    return ParseResult(items=[_attachment_item(data, name, blocks, parent, meta)])


def parse_msg_file(path: str, ctx: MailContext) -> ParseResult:
    """An Outlook .msg file, through extract-msg, mapped onto the same item shape."""
    import extract_msg

    from ingest.core.errors import ItemError

    try:
        m: Any = extract_msg.openMsg(path)
    except Exception as exc:
        raise ItemError(
            "corrupt", f"not a readable Outlook message ({type(exc).__name__})"
        ) from exc
    try:
        # rebuild a MIME message so one code path decides body, quoting and attachments
        from email.message import EmailMessage

        em = EmailMessage()
        for h, v in (
            ("Subject", m.subject),
            ("From", m.sender),
            ("To", m.to),
            ("Cc", m.cc),
            ("Message-ID", m.messageId),
        ):
            if v:
                em[h] = " ".join(str(v).split())
        if m.date:
            em["Date"] = email.utils.format_datetime(
                m.date if m.date.tzinfo else m.date.replace(tzinfo=UTC)
            )
        body = m.body or ""
        html = m.htmlBody
        if body.strip():
            em.set_content(body)
        elif html:
            em.set_content(
                html.decode("utf-8", "replace") if isinstance(html, bytes) else str(html),
                subtype="html",
            )
        else:
            em.set_content("")
        for att in m.attachments:
            data = getattr(att, "data", None)
            name = (
                getattr(att, "longFilename", None)
                or getattr(att, "shortFilename", None)
                or "attachment"
            )
            if isinstance(data, bytes):
                em.add_attachment(
                    data, maintype="application", subtype="octet-stream", filename=name
                )
        msg = email.message_from_bytes(em.as_bytes(), policy=compat32)
        return _message_items(msg, ctx)
    finally:
        m.close()
