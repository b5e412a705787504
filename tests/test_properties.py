"""Property-based tests (hypothesis): for any bytes, headers and MIME trees, any calendar text and
any item text, the parsers and the chunker either succeed or raise pdq's own per-item error
(:class:`ingest.core.errors.ItemError`) — nothing else ever escapes — and chunks always fit the
embedding model and lose no words."""

from __future__ import annotations

import functools
import re

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ingest.core.errors import ItemError
from ingest.items import Block, Item, ParseResult, clean_meta

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HEADER_NAMES = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "MIME-Version",
    "X-Weird",
    "Received",
]
NASTY = [
    "=?utf-8?B?w6nDqQ==?=",
    "=?bogus-charset?Q?caf=E9?=",
    "=?utf-8?Q?broken",
    "=?iso-8859-1?B?!!!?=",
    "<>",
    "<<a@b>>",
    '"Anna" <anna@example.org>, bad@@x',
    "Mon, 32 Foo 2026 25:61:00 +9999",
    "multipart/mixed; boundary=",
    'text/plain; charset="x-unknown-8bit"',
    "base64",
    "quoted-printable",
    "8bit",
    "\u202e\u0000",
    "a" * 300,
]

header_value = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=80).map(lambda s: s.replace("\n", " ").replace("\r", " ")),
)
body_bytes = st.one_of(
    st.binary(max_size=600), st.text(max_size=600).map(lambda s: s.encode("utf-8", "surrogatepass"))
)


@functools.cache
def tokenizer():
    from transformers import AutoTokenizer

    from ingest.core.settings import DEFAULT_EMBEDDING_MODEL
    from ingest.embedding import resolve_model_path

    return AutoTokenizer.from_pretrained(
        resolve_model_path(DEFAULT_EMBEDDING_MODEL), local_files_only=True
    )


@functools.cache
def chunker():
    from ingest.chunking import Chunker

    return Chunker(tokenizer(), max_tokens=200, overlap=32, model_max=256)


@st.composite
def mime_part(draw, depth: int = 0) -> bytes:
    headers = draw(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_value), max_size=4))
    if depth < 2 and draw(st.booleans()):
        boundary = draw(st.sampled_from(["b1", "==x==", "", "a" * 80]))
        subtype = draw(st.sampled_from(["mixed", "alternative", "related", "signed", "weird"]))
        parts = draw(st.lists(mime_part(depth=depth + 1), max_size=3))
        head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n'.encode()
        body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
        if draw(st.booleans()):
            body += b"--" + boundary.encode() + b"--\r\n"
    else:
        ctype = draw(
            st.sampled_from(
                [
                    "text/plain",
                    "text/html",
                    "application/pdf",
                    "text/calendar",
                    "message/rfc822",
                    "image/png",
                    "application/octet-stream",
                    "text/plain; charset=utf-7",
                ]
            )
        )
        head = f"Content-Type: {ctype}\r\n".encode()
        body = draw(body_bytes)
    extra = b"".join(f"{k}: {v}\r\n".encode("utf-8", "surrogatepass") for k, v in headers)
    return head + extra + b"\r\n" + body


def _check_items(result: ParseResult) -> None:
    assert isinstance(result, ParseResult)
    event(
        f"{len(result.items)} items, {len(result.problems)} problems"
        if len(result.items) < 3
        else "3+ items"
    )
    for it in result.items:
        assert isinstance(it.text, str) and it.item_id
        clean_meta(it.meta)  # storable in Chroma
        for c in chunker().chunk_item(it):
            assert len(tokenizer()(c.text)["input_ids"]) <= 256


@SETTINGS
@given(
    top=st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_value), max_size=8),
    tree=mime_part(),
    junk=st.binary(max_size=40),
)
def test_any_message_parses_or_is_an_item_error(top, tree, junk):
    from ingest.sources.mail import MailContext

    raw = junk + b"".join(f"{k}: {v}\r\n".encode("utf-8", "surrogatepass") for k, v in top) + tree
    _parse_and_check(raw, MailContext("/tmp/x.mbox", "INBOX", "/tmp/x.mbox#0"))


@SETTINGS
@given(st.binary(max_size=2000))
def test_any_bytes_as_a_message(raw):
    from ingest.sources.mail import MailContext

    _parse_and_check(raw, MailContext("/tmp/x.eml", "INBOX", "/tmp/x.eml"))


def _parse_and_check(raw: bytes, ctx) -> None:
    """Parse; an ItemError is fine (recorded as a hypothesis event), anything else fails."""
    from ingest.sources.mail import parse_message_bytes

    try:
        result = parse_message_bytes(raw, ctx)
    except ItemError as exc:
        event(f"ItemError {exc.reason}")
        return
    _check_items(result)


ICS_DATES = [
    "20260311T090000Z",
    "20260311T090000",
    "20260311",
    "2026-03-11",
    "20261399T999999",
    "",
    "TZID=Mars/Olympus:20260311T090000",
    "VALUE=DATE:20260311",
    "20260311T090000Z/PT1H",
]
RRULES = [
    "FREQ=DAILY;COUNT=3",
    "FREQ=WEEKLY;BYDAY=MO,WE",
    "FREQ=YEARLY",
    "FREQ=SOMETIMES",
    "FREQ=DAILY;UNTIL=garbage",
    "FREQ=MONTHLY;BYMONTHDAY=31",
    "FREQ=MINUTELY",
]


@st.composite
def calendar(draw) -> bytes:
    tidy = (
        draw(st.integers(0, 9)) < 8
    )  # mostly well-formed structure with odd values; sometimes anything
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//x//EN"]
    for _ in range(draw(st.integers(0, 4))):
        comp = draw(
            st.sampled_from(
                ["VEVENT", "VEVENT", "VTODO", "VTIMEZONE", "VJUNK"]
                if not tidy
                else ["VEVENT", "VTODO"]
            )
        )
        lines.append(f"BEGIN:{comp}")
        for _ in range(draw(st.integers(0, 6))):
            prop = draw(
                st.sampled_from(
                    [
                        "DTSTART",
                        "DTEND",
                        "DUE",
                        "SUMMARY",
                        "LOCATION",
                        "RRULE",
                        "EXDATE",
                        "UID",
                        "DURATION",
                        "STATUS",
                        "ORGANIZER",
                        "ATTENDEE",
                        "X-ODD",
                    ]
                )
            )
            if prop in ("DTSTART", "DTEND", "DUE", "EXDATE"):
                value = draw(st.sampled_from(ICS_DATES))
                lines.append(f"{prop};{value}" if "=" in value else f"{prop}:{value}")
            elif prop == "RRULE":
                lines.append(f"RRULE:{draw(st.sampled_from(RRULES))}")
            elif prop == "DURATION":
                lines.append(
                    f"DURATION:{draw(st.sampled_from(['PT1H', 'P1D', '-PT5M', 'PX', '']))}"
                )
            else:
                text = (
                    st.text(max_size=40)
                    if not tidy
                    else st.text(st.characters(categories=["L", "N", "Zs"]), max_size=40)
                )
                lines.append(f"{prop}:{draw(text).replace(chr(10), ' ').replace(chr(13), ' ')}")
        if tidy or draw(st.booleans()):
            lines.append(f"END:{comp}")
    if tidy or draw(st.booleans()):
        lines.append("END:VCALENDAR")
    if not tidy and draw(st.booleans()):
        lines.insert(
            draw(st.integers(0, len(lines))), draw(st.text(max_size=30)).replace("\n", " ")
        )
    return "\r\n".join(lines).encode("utf-8", "surrogatepass")


@settings(max_examples=200, deadline=None)
@given(calendar())
def test_any_calendar_parses_or_is_an_item_error(data):
    from ingest.sources.calendar import parse_calendar_bytes

    try:
        result = parse_calendar_bytes(
            data, source_key="k", locator="/tmp/c.ics", timezone="Europe/London"
        )
    except ItemError as exc:
        event(f"ItemError {exc.reason}")
        return
    _check_items(result)
    for it in result.items:
        assert it.kind in ("event", "todo")


words = st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=10)
paragraph = st.lists(words, min_size=1, max_size=120).map(" ".join)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            paragraph,
            st.one_of(st.none(), st.text(max_size=20)),
            st.one_of(st.none(), st.integers(1, 9)),
        ),
        min_size=1,
        max_size=6,
    ),
    st.text(max_size=300),
)
def test_chunks_fit_the_model_and_lose_no_word(blocks, context):
    item = Item(
        "i1",
        "note",
        "t",
        context.replace("\n", " ") or "Note",
        [Block(t, s, p) for t, s, p in blocks],
    )
    chunks = chunker().chunk_item(item)
    assert chunks and [c.chunk_id for c in chunks] == [f"i1#{k}" for k in range(len(chunks))]
    tok = tokenizer()
    for c in chunks:
        assert len(tok(c.text)["input_ids"]) <= 200
    joined = "\n".join(c.text for c in chunks)
    for text, _, _ in blocks:
        for w in set(text.split()):
            # the tokenizer may normalise some characters (accents, compatibility forms): compare as it does
            assert w in joined or tok.decode(
                tok(w, add_special_tokens=False)["input_ids"]
            ) in tok.decode(tok(joined, add_special_tokens=False)["input_ids"]), w


def test_nothing_but_item_errors_are_expected():
    """The tests above would be vacuous if ItemError were a catch-all: it is pdq's own type."""
    assert ItemError.__module__ == "ingest.core.errors" and not issubclass(
        ItemError, (OSError, ValueError, re.error)
    )
