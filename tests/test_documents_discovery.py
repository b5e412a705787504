"""Documents through unstructured/pdfminer offline, and what the walker finds."""

from pathlib import Path

import pytest

from ingest.core.errors import ItemError
from ingest.sources.discovery import classify, walk
from ingest.sources.documents import parse_document_bytes, parse_document_file

from .conftest import SAMPLE


def test_pdf_and_docx_samples():
    pdf = parse_document_file(SAMPLE / "documents" / "tenancy-agreement.pdf")
    assert pdf[0].page == 1 and "GBP 1,450 per month" in " ".join(b.text for b in pdf)
    docx = parse_document_file(SAMPLE / "documents" / "atlas-project-brief.docx")
    sections = {b.section for b in docx}
    assert any(s and s.endswith("Milestones") for s in sections)
    assert any("30 June 2026" in b.text for b in docx)


def test_html_document_uses_unstructured_offline_without_hidden_text():
    from unstructured.nlp import tokenize

    blocks = parse_document_bytes(
        b"<h1>Trip</h1><p>Meet at the station. Bring boots.</p><p style='display:none'>secret</p>",
        "t.html",
    )
    assert blocks[0].section == "Trip" and "Bring boots." in blocks[0].text
    assert all("secret" not in b.text for b in blocks)
    # unstructured runs on pdq's blank spaCy pipeline: nothing was downloaded or installed
    assert tokenize._get_nlp().meta["name"] in ("pipeline", "")
    assert tokenize.sent_tokenize("One here. Two there.") == ["One here.", "Two there."]


def test_bad_documents_are_item_errors():
    with pytest.raises(ItemError) as e:
        parse_document_bytes(b"%PDF-1.4\n garbage", "x.pdf")
    assert e.value.reason in ("corrupt", "no text")
    with pytest.raises(ItemError) as e:
        parse_document_bytes(b"   ", "x.docx")
    assert e.value.reason == "empty"


def test_encrypted_pdf_is_reported_as_encrypted(corpus: Path):
    with pytest.raises(ItemError) as e:
        parse_document_file(corpus / "docs/pdfminer-samples/samples/encryption/aes-256.pdf")
    assert e.value.reason == "encrypted"


def test_walk_sample_docs():
    found = {(s.path.relative_to(SAMPLE).as_posix(), s.kind, s.folder) for s in walk(SAMPLE)}
    kinds = {k for _, k, _ in found}
    assert kinds == {"message", "mbox", "calendar", "note", "todotxt", "document"}
    folders = {f for _, k, f in found if k == "message"}
    assert folders == {"INBOX", "Work"}  # Maildir root and Maildir++ .Work
    assert ("mail/archive-2026-02.mbox", "mbox", "archive-2026-02") in found
    assert not any(p.endswith("README.md") for p, _, _ in found)  # .pdqignore
    assert not any(".gitkeep" in p for p, _, _ in found)


def test_thunderbird_profile_and_sniffing(tmp_path):
    mbox = b"From - Mon Mar  2 10:00:00 2026\nFrom: a@b.example\nSubject: hi\n\nbody\n"
    (tmp_path / "Inbox").write_bytes(mbox)
    (tmp_path / "Inbox.msf").write_text("// index")
    sbd = tmp_path / "Archives.sbd"
    sbd.mkdir()
    (sbd / "2025").write_bytes(mbox)
    (tmp_path / "00001.7c53336b37").write_bytes(
        b"Return-Path: <x@y>\nFrom: a@b\nSubject: s\n\nhello"
    )
    (tmp_path / "msg_01.txt").write_bytes(b"From: a@b\nTo: c@d\nSubject: s\n\nhello")
    (tmp_path / "notes.txt").write_text("just a note: buy milk")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    found = {s.path.name: (s.kind, s.folder) for s in walk(tmp_path)}
    assert found["Inbox"] == ("mbox", "Inbox")
    assert found["2025"] == ("mbox", "Archives/2025")
    assert "Inbox.msf" not in found
    assert found["00001.7c53336b37"][0] == "message"
    assert found["msg_01.txt"][0] == "message"
    assert found["notes.txt"][0] == "note"
    assert found["photo.jpg"][0] == "image"  # read by OCR (tests/test_ocr.py)
    assert classify(tmp_path / "photo.jpg") == "image"


@pytest.mark.parametrize(
    "name,needle",
    [
        ("fake.odt", "Lorem ipsum"),
        ("fake-doc.rtf", "My first paragraph"),
        ("fake-power-point.pptx", "bullet"),
        ("emoji.xlsx", "🤠"),
        ("fake.docx", "Lorem ipsum"),
    ],
)
def test_office_formats_from_the_corpus(corpus: Path, name, needle):
    blocks = parse_document_file(corpus / "docs/unstructured-example-docs/example-docs" / name)
    assert needle in " ".join(b.text for b in blocks)
