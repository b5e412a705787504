"""Incremental sync against a real Chroma store: exactly what changed is embedded or deleted.

Uses the deterministic HashEmbedder (counts what it embeds) for speed; the real model runs the
same pipeline in test_integration.py.
"""

import os
import shutil
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from ingest.core.errors import IngestError, StoreError, StoreMismatchError
from ingest.pipeline import ingest_paths
from ingest.store import Store, StoreLock


def mail(msgid: str, subject: str, body: str, day: int = 2) -> bytes:
    m = EmailMessage()
    m["From"] = "Anna Lee <anna@x.example>"
    m["To"] = "sam@x.example"
    m["Subject"] = subject
    m["Date"] = format_datetime(datetime(2026, 3, day, 10, 0, tzinfo=UTC))
    m["Message-ID"] = f"<{msgid}@x>"
    m.set_content(body)
    return bytes(m)


def maildir(root, folder=None):
    d = root / "Maildir" if folder is None else root / "Maildir" / f".{folder}"
    for sub in ("cur", "new", "tmp"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    return d


def run(paths, settings, emb, **kw):
    return ingest_paths(paths, settings, embedder=emb, **kw)


def stored(settings):
    store = Store.open(settings.store, create=False)
    try:
        got = store.collection.get(include=["metadatas"])
        return {i: m for i, m in zip(got["ids"], got["metadatas"], strict=True)}
    finally:
        store.close()


def bump(p):
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def box(tmp_path):
    root = tmp_path / "mail"
    inbox = maildir(root)
    for i in range(3):
        (inbox / "cur" / f"{i}.M1:2,S").write_bytes(
            mail(f"m{i}", f"Subject {i}", f"Body number {i} about topic {i}.")
        )
    return root


def test_rerun_embeds_nothing_and_does_not_open_files(box, settings, hash_embedder, monkeypatch):
    r1 = run([box], settings, hash_embedder)
    assert r1.totals["new"] == 3 and r1.chunks_embedded == 3
    calls = hash_embedder.calls
    import ingest.sources.readers as readers

    def boom(*a, **k):
        raise AssertionError("an unchanged file was parsed")

    monkeypatch.setattr(readers, "parse_message_bytes", boom)
    import ingest.store.keyword_index as keyword_index

    def no_load(*a, **k):
        raise AssertionError("the keyword index was loaded to see that it is current")

    monkeypatch.setattr(keyword_index, "load", no_load)
    r2 = run([box], settings, hash_embedder)
    assert hash_embedder.calls == calls
    assert r2.totals["unchanged"] == 3 and r2.totals["new"] == 0 and r2.files_skipped_unchanged == 3
    assert len(stored(settings)) == 3


def test_changed_message_is_replaced(box, settings, hash_embedder):
    run([box], settings, hash_embedder)
    p = box / "Maildir" / "cur" / "1.M1:2,S"
    p.write_bytes(mail("m1", "Subject 1", "A completely new body. " * 200))  # now several chunks
    bump(p)
    before = hash_embedder.texts_embedded
    r = run([box], settings, hash_embedder)
    assert r.totals["updated"] == 1 and r.totals["new"] == 0
    assert r.chunks_embedded > 1
    # the repeated body makes chunks of the same text: each distinct text is embedded once
    assert hash_embedder.texts_embedded - before == r.chunks_embedded - r.chunks_same_text
    ids = stored(settings)
    m1 = [i for i, m in ids.items() if m["subject"] == "Subject 1"]
    assert len(m1) == r.chunks_embedded  # old chunk gone, new ones present, no duplicates
    r = run([box], settings, hash_embedder)  # and shrink back to one chunk: extra chunks go
    p.write_bytes(mail("m1", "Subject 1", "short again"))
    bump(p)
    run([box], settings, hash_embedder)
    assert len([m for m in stored(settings).values() if m["subject"] == "Subject 1"]) == 1


def test_removed_message_and_folder_are_deleted(box, settings, hash_embedder):
    run([box], settings, hash_embedder)
    (box / "Maildir" / "cur" / "0.M1:2,S").unlink()
    r = run([box], settings, hash_embedder)
    assert r.totals["removed"] == 1 and r.files_removed == 1
    assert {m["subject"] for m in stored(settings).values()} == {"Subject 1", "Subject 2"}
    shutil.rmtree(box / "Maildir")
    (box / "keep.md").write_text("# keep\nsomething")
    r = run([box], settings, hash_embedder)
    assert r.totals["removed"] == 2
    assert {m["kind"] for m in stored(settings).values()} == {"note"}


def test_other_roots_are_left_alone(box, tmp_path, settings, hash_embedder):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# A\n- [ ] task one")
    run([box], settings, hash_embedder)
    run([notes], settings, hash_embedder)
    kinds = [m["kind"] for m in stored(settings).values()]
    assert kinds.count("email") == 3 and kinds.count("note") == 1 and kinds.count("todo") == 1


def test_maildir_flag_rename_does_not_reembed(box, settings, hash_embedder):
    run([box], settings, hash_embedder)
    old = box / "Maildir" / "cur" / "2.M1:2,S"
    new = box / "Maildir" / "cur" / "2.M1:2,RS"
    old.rename(new)
    before = hash_embedder.texts_embedded
    r = run([box], settings, hash_embedder)
    assert hash_embedder.texts_embedded == before
    assert r.totals["removed"] == 0 and r.totals["new"] == 0
    [meta] = [m for m in stored(settings).values() if m["subject"] == "Subject 2"]
    assert meta["path"] == str(new)


def test_same_message_in_two_folders_is_stored_once(box, settings, hash_embedder):
    work = maildir(box, "Work")
    shutil.copy(box / "Maildir" / "cur" / "0.M1:2,S", work / "cur" / "0copy.M1:2,S")
    r = run([box], settings, hash_embedder)
    assert r.chunks_embedded == 3
    metas = [m for m in stored(settings).values() if m["subject"] == "Subject 0"]
    assert len(metas) == 1
    store = Store.open(settings.store, create=False)
    assert store.manifest.folders_of(metas[0]["item_id"]) == ["INBOX", "Work"]
    store.close()
    # deleting one copy keeps the message; deleting both removes it
    (work / "cur" / "0copy.M1:2,S").unlink()
    assert run([box], settings, hash_embedder).totals["removed"] == 0
    assert len([m for m in stored(settings).values() if m["subject"] == "Subject 0"]) == 1


def test_appending_to_an_mbox_embeds_one_message(tmp_path, settings, hash_embedder, monkeypatch):
    mbox = tmp_path / "Archive"  # no extension: detected by content
    mbox.write_bytes(
        b"".join(
            b"From x@y Mon Mar  2 10:00:00 2026\n"
            + mail(f"a{i}", f"Old {i}", f"old body {i}")
            + b"\n"
            for i in range(50)
        )
    )
    run([mbox], settings, hash_embedder)
    seen_before = len(hash_embedder.seen)
    with mbox.open("ab") as f:
        f.write(
            b"From x@y Tue Mar  3 10:00:00 2026\n"
            + mail("new1", "Fresh", "brand new message")
            + b"\n"
        )
    import ingest.sources.readers as readers

    parsed = []
    real = readers.parse_message_bytes
    monkeypatch.setattr(
        readers,
        "parse_message_bytes",
        lambda raw, ctx: parsed.append(ctx.locator) or real(raw, ctx),
    )
    r = run([mbox], settings, hash_embedder)
    assert len(parsed) == 1  # only the appended message was even parsed
    assert hash_embedder.seen[seen_before:] and all(
        "Fresh" in t for t in hash_embedder.seen[seen_before:]
    )
    assert r.totals["new"] == 1 and r.totals["removed"] == 0
    assert len(stored(settings)) == 51


def test_editing_inside_an_mbox_replaces_only_that_message(tmp_path, settings, hash_embedder):
    mbox = tmp_path / "box.mbox"
    msgs = [
        b"From x@y Mon Mar  2 10:00:00 2026\n" + mail(f"a{i}", f"Msg {i}", f"body {i}") + b"\n"
        for i in range(5)
    ]
    mbox.write_bytes(b"".join(msgs))
    run([mbox], settings, hash_embedder)
    msgs[2] = b"From x@y Mon Mar  2 10:00:00 2026\n" + mail("a2", "Msg 2", "edited body") + b"\n"
    del msgs[4]
    mbox.write_bytes(b"".join(msgs))
    bump(mbox)
    r = run([mbox], settings, hash_embedder)
    assert (r.totals["updated"], r.totals["removed"], r.totals["unchanged"]) == (1, 1, 3)
    assert len(stored(settings)) == 4


def test_note_rename_and_edit(tmp_path, settings, hash_embedder):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# Plan\nText here.\n- [ ] call Tom\n")
    run([notes], settings, hash_embedder)
    (notes / "a.md").write_text("# Plan\nText here, edited.\n- [ ] call Tom\n")
    bump(notes / "a.md")
    r = run([notes], settings, hash_embedder)
    assert r.by_kind["note"]["updated"] == 1 and r.by_kind["todo"]["unchanged"] == 1
    (notes / "a.md").rename(notes / "b.md")
    r = run([notes], settings, hash_embedder)
    assert r.by_kind["note"]["new"] == 1 and r.by_kind["note"]["removed"] == 1
    assert len(stored(settings)) == 2


def test_crash_leftovers_are_repaired(box, settings, hash_embedder):
    run([box], settings, hash_embedder)
    store = Store.open(settings.store, create=False)
    [victim] = [m["item_id"] for m in stored(settings).values() if m["subject"] == "Subject 1"]
    # simulate a run killed after writing chunks but before committing the manifest
    with store.manifest.transaction():
        store.manifest.mark_pending([victim], "write")
    store.close()
    r = run([box], settings, hash_embedder)
    assert r.repaired == 1
    assert r.totals["new"] == 1  # re-read and re-embedded
    metas = list(stored(settings).values())
    assert len(metas) == 3 and len({m["item_id"] for m in metas}) == 3


def test_store_records_model_and_refuses_another(box, settings, hash_embedder, tokenizer):
    from tests.fakes import HashEmbedder

    run([box], settings, hash_embedder)
    other = HashEmbedder(tokenizer, name="another-model")
    with pytest.raises(StoreMismatchError, match="test-hash-embedder.*another-model.*--rebuild"):
        run([box], settings, other)
    r = run([box], settings, other, rebuild=True)
    assert r.totals["new"] == 3
    with pytest.raises(StoreMismatchError, match="chunk"):
        run([box], settings.model_copy(update={"chunk_tokens": 100}), other)


def test_bad_paths_and_locked_store(settings, hash_embedder, box):
    with pytest.raises(IngestError, match="no such file"):
        run(["/definitely/not/here"], settings, hash_embedder)
    settings.store.mkdir(parents=True)
    with StoreLock(settings.store):
        with pytest.raises(StoreError, match="another pdq ingest is running"):
            run([box], settings, hash_embedder)


def test_store_dir_is_private(box, settings, hash_embedder):
    run([box], settings, hash_embedder)
    assert (settings.store.stat().st_mode & 0o777) == 0o700
    settings.store.chmod(0o755)  # a store made world-readable by hand is tightened again
    run([box], settings, hash_embedder)
    assert (settings.store.stat().st_mode & 0o777) == 0o700


def test_failures_are_reported_and_the_rest_stored(tmp_path, settings, hash_embedder):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (d / "bad.ics").write_bytes(b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260X\n")
    (d / "pic.png").write_bytes(b"\x89PNG\r\n")
    (d / "ok.md").write_text("# fine\nall good")
    r = run([d], settings, hash_embedder)
    assert r.failed == 2 and len(r.unsupported) == 1
    assert {f.locator.rsplit("/", 1)[-1] for f in r.failures} == {"broken.pdf", "bad.ics"}
    assert r.totals["new"] == 1
    log = (settings.store / "ingest.log").read_text()
    assert "broken.pdf" in log and "all good" not in log  # reasons logged, never content
    assert "failed: 2" in str(r)


def test_dry_run_stores_nothing(box, settings, hash_embedder):
    r = run([box], settings, hash_embedder, dry_run=True)
    assert r.totals["found"] == 3 and r.chunks_planned == 3 and hash_embedder.calls == 0
    assert not (settings.store / "manifest.sqlite").exists()


def test_an_existing_store_keeps_its_chunking_when_the_default_changes(
    box, tmp_path, settings, hash_embedder
):
    """A store built with other chunk settings (an older pdq's defaults) keeps them: a sync
    with the defaults of now works and chunks new mail the way the store was built; only an
    explicit, different setting asks for --rebuild. A new store gets the defaults."""
    from ingest.chunking import chunker_signature
    from ingest.core.settings import Settings, load_settings
    from ingest.store import recorded_chunker

    default = Settings.model_fields["chunk_overlap"].default
    older = load_settings(
        store=settings.store, chunk_tokens=128, chunk_overlap=default + 8, timezone="UTC"
    )
    run([box], older, hash_embedder)
    built = recorded_chunker(settings.store)
    assert built == chunker_signature(older, hash_embedder.max_seq_length)
    (maildir(box) / "cur" / "9.M1:2,S").write_bytes(
        mail("m9", "Long one", "A sentence about the budget and the trip. " * 120)
    )
    r = run([box], load_settings(store=settings.store, timezone="UTC"), hash_embedder)
    assert r.totals["new"] == 1 and recorded_chunker(settings.store) == built
    # the new mail was chunked at the store's 128 tokens, not the default's size
    store = Store.open(settings.store, create=False)
    try:
        (item,) = store.manifest.db.execute(
            "SELECT item_id FROM items WHERE title = 'Long one'"
        ).fetchone()
        texts = [t for t, _ in store.chunks(store.manifest.chunk_ids([item])).values()]
    finally:
        store.close()
    sizes = [len(hash_embedder.tokenizer(t)["input_ids"]) for t in texts]
    assert len(sizes) > 1 and max(sizes) <= 128 < Settings.model_fields["chunk_tokens"].default
    with pytest.raises(StoreMismatchError, match="chunk"):
        run([box], load_settings(store=settings.store, chunk_tokens=100), hash_embedder)
    fresh = load_settings(store=tmp_path / "fresh", timezone="UTC")
    run([box], fresh, hash_embedder)
    assert recorded_chunker(fresh.store) == chunker_signature(fresh, hash_embedder.max_seq_length)
