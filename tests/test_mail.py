"""Golden tests for mail parsing: headers, charsets, bodies, quoting, attachments, threads."""

from email.message import EmailMessage
from pathlib import Path

import pytest

from ingest.sources.mail import MailContext, parse_message_bytes
from ingest.sources.quoting import split_reply

from .conftest import SAMPLE


def ctx(**kw) -> MailContext:
    return MailContext(
        source_path="/m/x", folder="INBOX", locator="/m/x", timezone="Europe/London", **kw
    )


def parse(raw: bytes):
    return parse_message_bytes(raw, ctx())


def sample(key: str) -> bytes:
    for p in (SAMPLE / "mail" / "Maildir").rglob("*"):
        if p.is_file() and f"<{key}@sample.pdq>".encode() in p.read_bytes()[:2000]:
            return p.read_bytes()
    raise LookupError(key)


def test_rfc2047_subject_latin1_body_and_addresses():
    res = parse(sample("elodie-lyon"))
    [email] = res.items
    assert email.title == "Réunion à Lyon le 24 mars"
    assert email.meta["from_name"] == "Élodie Martin"
    assert email.meta["from_addr"] == "elodie.martin@partenaire.example"
    assert "prototype « Atlas Régions »" in email.text
    assert "charset_fallback" not in email.meta  # declared iso-8859-1 was right


def test_date_is_utc_epoch_and_iso():
    [email] = parse(sample("dentist-2")).items
    assert email.meta["date_iso"] == "2026-03-03T14:02:00Z"
    assert email.meta["date"] == 1772546520
    assert email.context.startswith("Email from Smile Dental Care to Sam Carter, 2026-03-03 14:02")


def test_html_only_mail_drops_hidden_text():
    [email] = parse(sample("phishing")).items
    assert email.meta["html_only"] is True
    assert "Verify your PIN" in email.text
    assert "ignore previous instructions" not in email.text
    [news] = parse(sample("news-1")).items
    assert "tracking-pixel" not in news.text and "running language models" in news.text


def test_reply_keeps_new_text_and_a_short_quote_excerpt():
    [email] = parse(sample("sam-contractor-re")).items
    assert email.text.startswith("Will do. I've asked PixelCraft and Northlight Studio")
    assert "wrote:" not in email.text
    assert email.meta["has_quote"] is True
    assert "(In reply to:" in email.text  # context survives, once and short
    assert email.text.count("front-end contractor") == 1


def test_thread_ids_follow_references():
    ids = {
        k: parse(sample(k)).items[0].meta["thread_id"]
        for k in ("offsite-1", "offsite-2", "offsite-3", "dentist-1")
    }
    assert ids["offsite-1"] == ids["offsite-2"] == ids["offsite-3"]
    assert ids["dentist-1"] != ids["offsite-1"]


def test_pdf_attachment_is_an_item_linked_to_its_message():
    res = parse(sample("plumber-invoice"))
    email, att = res.items
    assert att.kind == "attachment" and att.title == "invoice-4471.pdf"
    assert att.meta["parent_id"] == email.item_id
    assert att.meta["from_addr"] == "accounts@greenfix.example"
    assert "Total due: GBP 180.00" in att.text
    assert email.meta["attachments"] == ["invoice-4471.pdf"]


def test_ics_invite_becomes_an_event_linked_to_its_message():
    email, event = parse(sample("budget-invite")).items
    assert event.kind == "event" and event.title == "Budget review with Finance"
    assert event.meta["parent_id"] == email.item_id
    assert event.meta["date_iso"] == "2026-03-12T11:00:00Z"
    assert event.meta["location"] == "Meeting room Orion, 3rd floor"


def _msg(**headers) -> EmailMessage:
    m = EmailMessage()
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    return m


def test_unknown_charset_falls_back_and_is_noted():
    raw = (
        b"From: a@b.example\r\nTo: c@d.example\r\nSubject: =?x-unknown?q?caf=E9?=\r\nMessage-ID: <u1@x>\r\n"
        b"Content-Type: text/plain; charset=x-unknown-8bit\r\n\r\nCaf\xe9 cr\xe8me on Tuesday, \xe0 bient\xf4t.\r\n"
    )
    [email] = parse(raw).items
    assert "Tuesday" in email.text
    assert "declared x-unknown-8bit" in email.meta["charset_fallback"]


def test_missing_message_id_gets_a_stable_content_id():
    m = _msg(
        From="a@b.example", To="c@d.example", Subject="hello", Date="Mon, 2 Mar 2026 10:00:00 +0000"
    )
    m.set_content("body one")
    a = parse(bytes(m)).items[0].item_id
    b = parse(bytes(m)).items[0].item_id
    m.set_content("body two")
    c = parse(bytes(m)).items[0].item_id
    assert a == b != c and a.startswith("mail:")


def test_message_id_is_the_id_whatever_the_folder():
    raw = sample("dentist-1")
    a = parse_message_bytes(raw, MailContext("/a", "INBOX", "/a")).items[0]
    b = parse_message_bytes(raw, MailContext("/b", "Archive", "/b")).items[0]
    assert a.item_id == b.item_id and a.content_hash() == b.content_hash()


def test_garbage_never_raises():
    for raw in (
        b"",
        b"\x00\xff" * 50,
        b"Subject: =?utf-8?b?!!!?=\r\n\r\n",
        b"From: <<<\r\nDate: yesterday\r\n\r\nx",
    ):
        res = parse(raw)
        assert len(res.items) == 1


def test_split_reply_forms():
    outlook = "Sounds good.\n\n________________________________\nFrom: Anna Lee\nSent: 2 March 2026 10:00\nTo: Sam\nSubject: x\n\nold text"
    assert split_reply(outlook).new_text == "Sounds good."
    original = "Yes.\n\n-----Original Message-----\nFrom: Ben\nold"
    assert split_reply(original).new_text == "Yes."
    wrapped = "Fine by me.\n\nOn Tue, 3 Mar 2026 at 10:02, Anna Lee <anna@x.org>\nwrote:\n> hi"
    assert split_reply(wrapped).new_text == "Fine by me."
    inline = "> question one?\nanswer one\n> question two?\nanswer two"
    assert split_reply(inline).new_text == "answer one\nanswer two"
    only_quote = "> just a quote"
    assert split_reply(only_quote).new_text == "> just a quote"  # nothing lost
    sig = "See you.\n-- \nSam Carter\nPhone 0123"
    assert split_reply(sig).new_text == "See you."


def test_outlook_msg_from_corpus(corpus: Path):
    from ingest.sources.mail import parse_msg_file

    p = corpus / "docs/unstructured-example-docs/example-docs/fake-email.msg"
    res = parse_msg_file(str(p), MailContext(str(p), "", str(p)))
    assert res.items[0].kind == "email" and res.items[0].title


def test_text_attachments_of_any_text_type_are_read():
    """A patch (text/x-diff), a script (text/x-ruby-script) and a log without a name are text:
    each becomes a searchable attachment, none is "unsupported"."""
    m = _msg(Subject="Fix for the parser")
    m.set_content("Patch attached, and the script I used.")
    m.add_attachment(
        b"--- a/parse.py\n+++ b/parse.py\n-    return None\n+    return fallback_value\n",
        maintype="text",
        subtype="x-diff",
        filename="fix.patch",
    )
    m.add_attachment(b'puts "zanzibar checksum"\n', maintype="text", subtype="x-ruby-script")
    r = parse(bytes(m))
    assert not r.problems, r.problems
    atts = [it for it in r.items if it.kind == "attachment"]
    texts = " ".join(b.text for it in atts for b in it.blocks)
    assert len(atts) == 2 and "fallback_value" in texts and "zanzibar checksum" in texts


@pytest.mark.corpus
def test_ruby_script_attachment_of_real_mail_is_read(corpus):
    raw = (
        corpus / "mail/ruby-mail-fixtures/spec/fixtures/emails/mime_emails/raw_email7.eml"
    ).read_bytes()
    r = parse(raw)
    names = {it.title for it in r.items if it.kind == "attachment"}
    assert "test.rb" in names, (names, r.problems)
    assert not [p for p in r.problems if "x-ruby" in p.detail]


def test_ics_attachment_uses_the_calendar_window_and_the_pinned_now():
    """A weekly invite attached to a mail: its occurrences are stored around the configured
    "now" and within the configured window, as for calendar files (not around today's clock)."""
    from datetime import UTC, datetime

    ics = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
        b"UID:weekly-gas-desk@example.org\r\nDTSTAMP:20010901T000000Z\r\n"
        b"DTSTART:20010903T150000Z\r\nDTEND:20010903T160000Z\r\nRRULE:FREQ=WEEKLY\r\n"
        b"SUMMARY:Gas desk weekly\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    m = _msg(Subject="Weekly gas desk meeting")
    m.set_content("Invite attached.")
    m.add_attachment(ics, maintype="text", subtype="calendar", filename="invite.ics")
    now = datetime(2001, 10, 1, 9, tzinfo=UTC)
    c = ctx(now=now, calendar_past_days=14, calendar_future_days=21)
    events = [it for it in parse_message_bytes(bytes(m), c).items if it.kind == "event"]
    assert events
    days = sorted(datetime.fromtimestamp(e.meta["date"], UTC).date() for e in events)
    assert days[0] >= datetime(2001, 9, 17).date() and days[-1] <= datetime(2001, 10, 22).date()


def test_random_bytes_are_not_text(tmp_path, settings, hash_embedder):
    """A file of random bytes named .eml is reported "not text" and stores nothing; a binary
    blob labelled text/plain inside a good message is left out, the rest of the message kept."""
    import random

    from ingest.pipeline import ingest_paths

    folder = tmp_path / "mail"
    folder.mkdir()
    rnd = random.Random(5)
    (folder / "noise.eml").write_bytes(bytes(rnd.randrange(256) for _ in range(5000)))
    m = _msg(Subject="Holiday photos")
    m.set_content("The photos from the lake are attached.")
    m.add_attachment(
        bytes(rnd.randrange(1, 256) for _ in range(3000)),
        maintype="text",
        subtype="plain",
        filename="blob.txt",
    )
    (folder / "good.eml").write_bytes(bytes(m))
    r = ingest_paths([folder], settings, embedder=hash_embedder)
    assert {(f.locator.rsplit("/", 1)[-1], f.reason) for f in r.failures} == {
        ("noise.eml", "not text"),
        ("good.eml > blob.txt", "not text"),
    }
    assert r.by_kind["email"]["new"] == 1 and r.by_kind["attachment"]["new"] == 0


def test_utf16_text_without_a_bom_is_text():
    from ingest.sources.charsets import decode_bytes, looks_binary

    for enc in ("utf-16-le", "utf-16-be"):
        data = "Dear Sam, the plumber comes on Thursday at nine.\n".encode(enc) * 20
        assert not looks_binary(data)
        assert decode_bytes(data)[0].startswith("Dear Sam, the plumber")
