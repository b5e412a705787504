"""Two-phase ingest: everything is stored and keyword-searchable before anything is embedded;
phase 2 embeds newest items first in committed rounds, resumes after an interruption, and dense
search only meets embedded chunks (staged ones are found by keyword). Fast (the hashing fake
embedder; the real CLI is killed in phase 2 in tests/test_crash.py)."""

from __future__ import annotations

import sqlite3
from email.message import EmailMessage

import pytest

import ingest.semantic_index
from ingest.pipeline import ingest_paths
from ingest.store import Store
from rag import Assistant
from tests.fakes import HashEmbedder


class Interrupted(Exception):
    pass


class StopsAfter(HashEmbedder):
    """Embeds ``rounds`` rounds, then the run is interrupted (as by Ctrl-C or a kill)."""

    def __init__(self, tokenizer, rounds: int) -> None:
        super().__init__(tokenizer)
        self.rounds = rounds

    def embed(self, texts):
        if self.calls >= self.rounds:
            raise Interrupted
        return super().embed(texts)


def mbox(path, n: int) -> None:
    with path.open("wb") as f:
        for i in range(n):
            m = EmailMessage()
            m["From"] = "Ann <ann@example.org>"
            m["To"] = "sam@example.org"
            m["Subject"] = f"Report {i} on the zebrafish{i} tank"
            m["Date"] = f"Mon, {1 + i % 28:02d} {('Jan', 'Feb', 'Mar')[i % 3]} 2026 10:00:00 +0000"
            m["Message-ID"] = f"<m{i}@example.org>"
            m.set_content(f"The zebrafish{i} tank was cleaned. " * 8)
            f.write(b"From a@example.org Mon Mar  2 10:00:00 2026\n" + bytes(m) + b"\n")


def state(settings) -> dict:
    db = sqlite3.connect(settings.store / "manifest.sqlite")
    rows = db.execute("SELECT item_id, date, embedded, title FROM items").fetchall()
    db.close()
    return {
        "embedded": {i: d for i, d, e, _ in rows if e},
        "waiting": {i: d for i, d, e, _ in rows if not e},
        "title": {i: t for i, _, _, t in rows},
    }


@pytest.fixture
def small_rounds(monkeypatch):
    monkeypatch.setattr(ingest.semantic_index, "EMBED_ROUND", 20)


def test_interrupted_phase_two_keeps_everything_searchable_and_resumes(
    tmp_path, settings, tokenizer, small_rounds
):
    box = tmp_path / "mail.mbox"
    mbox(box, 90)
    with pytest.raises(Interrupted):
        ingest_paths([box], settings, embedder=StopsAfter(tokenizer, rounds=2))
    st = state(settings)
    assert len(st["embedded"]) + len(st["waiting"]) == 90  # phase 1 stored every message
    assert st["embedded"] and st["waiting"]
    # newest first: nothing waiting is newer than anything embedded
    assert max(st["waiting"].values()) <= min(st["embedded"].values())

    a = Assistant(settings=settings, embedder=HashEmbedder(tokenizer))
    waiting_id = next(iter(st["waiting"]))
    n = st["title"][waiting_id].split()[1]  # "Report 17 on the zebrafish17 tank"
    # a message not embedded yet is found by keyword...
    hits = a.search(f"zebrafish{n}", k=3, mode="bm25")
    assert hits and hits[0].item_id == waiting_id
    # ...and dense search returns only chunks with their real vectors
    dense = a.search("zebrafish tank cleaned", k=50, mode="dense")
    assert dense and {s.item_id for s in dense} <= set(st["embedded"])
    assert a.status().semantic_index == {"embedded_items": len(st["embedded"]), "items": 90}
    assert "semantic index:" in a.status().semantic_line
    # the default (hybrid) search and an answer find it too, and say the index is partial
    assert a.search(f"zebrafish{n} tank report", k=3)[0].item_id == waiting_id
    answer = a.ask(f"Was the zebrafish{n} tank cleaned?", backend="extractive")
    assert not answer.abstained and answer.sources[0].item_id == waiting_id
    assert any("semantic index:" in w for w in answer.warnings)

    fake = HashEmbedder(tokenizer)
    report = ingest_paths([box], settings, embedder=fake)  # resumes phase 2 only
    assert report.files_parsed == 0 and report.totals["new"] == 0
    assert report.chunks_embedded > 0 and report.semantic == (90, 90)
    st = state(settings)
    assert not st["waiting"] and len(st["embedded"]) == 90
    store = Store.open(settings.store, create=False)
    try:
        got = store.collection.get(include=["documents", "embeddings"])
        staging = store.client.get_collection(store.staging_name)
        assert staging.count() == 0  # every staged chunk moved into the main collection
    finally:
        store.close()
    assert len(got["ids"]) == len(set(got["ids"])) == 90
    for doc, vec in zip(got["documents"], got["embeddings"], strict=True):
        assert max(abs(x - y) for x, y in zip(fake.embed([doc])[0], vec, strict=True)) < 1e-5
    again = ingest_paths([box], settings, embedder=HashEmbedder(tokenizer))
    assert again.chunks_embedded == 0 and again.chunks_stored == 0
    assert Assistant(settings=settings, embedder=fake).status().semantic_line == ""


def test_same_text_is_embedded_once(tmp_path, settings, hash_embedder):
    box = tmp_path / "list.mbox"
    with box.open("wb") as f:
        for i in range(3):  # one list mail delivered three times: three items, one text
            m = EmailMessage()
            m["From"] = "Allotment list <list@example.org>"
            m["Subject"] = "Shed key"
            m["Date"] = "Mon, 02 Mar 2026 10:00:00 +0000"
            m["Message-ID"] = f"<copy{i}@example.org>"
            m.set_content("The shed key is under the blue pot.")
            f.write(b"From a@example.org Mon Mar  2 10:00:00 2026\n" + bytes(m) + b"\n")
    report = ingest_paths([box], settings, embedder=hash_embedder)
    assert report.chunks_embedded == 3 and report.chunks_same_text == 2
    assert hash_embedder.texts_embedded == 1


def test_report_says_when_keyword_search_was_ready(tmp_path, settings, hash_embedder):
    box = tmp_path / "mail.mbox"
    mbox(box, 10)
    report = ingest_paths([box], settings, embedder=hash_embedder)
    d = report.to_dict()
    assert 0 < d["keyword_searchable_after"] <= report.seconds
    assert d["semantic_index"] == {"embedded_items": 10, "items": 10}
    assert d["chunks_stored"] == d["chunks_embedded"] == 10


def test_older_manifest_opens_with_everything_embedded(tmp_path, settings, hash_embedder):
    """A store built before the two phases has no ``embedded`` column: it is added, all 1."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# A\n\nThe allotment plot is number 14.\n")
    ingest_paths([notes], settings, embedder=hash_embedder)
    db = sqlite3.connect(settings.store / "manifest.sqlite")
    db.execute("DROP INDEX IF EXISTS items_to_embed")
    db.execute("ALTER TABLE items DROP COLUMN embedded")
    db.commit()
    db.close()
    a = Assistant(settings=settings, embedder=hash_embedder)
    assert a.status().semantic_index == {"embedded_items": 1, "items": 1}
    assert a.search("allotment plot", k=1, mode="dense")


def test_progress_shows_both_phases(tmp_path, settings, hash_embedder):
    """The progress events (the CLI's two bars, the page's ingest panel) go through reading,
    then embedding with items counted up to the store's total."""
    from webui.jobs import IngestJob

    box = tmp_path / "mail.mbox"
    mbox(box, 30)
    events = []
    ingest_paths([box], settings, embedder=hash_embedder, progress=events.append)
    phases = [e.phase for e in events]
    assert phases[0] == "read" and phases[-1] == "embed"
    assert phases == sorted(phases, key=lambda p: p == "embed")  # read, then embed, never back
    assert events[-1].embedded_items == events[-1].total_items == 30
    job = IngestJob([str(box)])
    job.progress = next(e for e in events if e.phase == "read" and e.files_total)
    assert job.describe().startswith("1/2 reading:") and 0 < job.fraction <= 1
    job.progress = events[-1]
    assert job.describe().startswith("2/2 semantic index: 30 of 30 items") and job.fraction == 1


def test_a_reader_opened_before_the_first_ingest_sees_it(tmp_path, settings, tokenizer):
    """The page (or a notebook) may open the store before anything is in it: once an ingest
    has written, its questions find what was written."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# Shed\n\nThe shed key is under the blue pot.\n")
    (notes / "b.md").write_text("# Bike\n\nThe bike lock code is 4411.\n")
    ingest_paths([notes / "b.md"], settings, embedder=HashEmbedder(tokenizer))  # store exists
    store = Store.open(settings.store, create=False)
    store.collection = None  # as a reader that opened it before the collection existed
    try:
        ingest_paths([notes], settings, embedder=HashEmbedder(tokenizer))
        titles = {m["title"] for _, _, m in store.chunks_where(None)}
        assert len(titles) == 2 and any(t.endswith("a.md") for t in titles)
    finally:
        store.close()
