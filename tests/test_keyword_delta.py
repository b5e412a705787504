"""The keyword index catches up from the store's keyword log instead of rebuilding.

A sync that adds, changes or deletes a few items re-reads only those items into a delta beside
the saved BM25 index (ingest/store/keyword_delta.py); the result must search, filter and count
terms like a full rebuild of the same store, a reader must catch up in memory, and a delta that
grows too big (or a log that cannot tell) must fall back to a full rebuild. Runs on a copy of
sample_docs with the hashing embedder (the keyword index does not use vectors).
"""

import json
import shutil
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from ingest.store import Store, keyword_delta, keyword_index
from tests.test_sync import mail

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    json.loads(line)["question"]
    for line in (ROOT / "sample_docs/questions.jsonl").read_text().splitlines()
    if line.strip()
]


@pytest.fixture
def docs(tmp_path):
    d = tmp_path / "docs"
    shutil.copytree(ROOT / "sample_docs", d)
    return d


def index_state(settings):
    return json.loads((settings.store / "bm25/state.json").read_text())


def change_mail(docs):
    """One new message, one deleted, one edited (the edit changes its words)."""
    cur = docs / "mail/Maildir/cur"
    (cur / "9999.M1P1.test:2,S").write_bytes(
        mail("zanzibar-trip", "Zanzibar ferry", "The Zanzibar ferry leaves at 07:40 from pier 3.")
    )
    files = sorted(cur.iterdir())
    files[0].unlink()
    edited = files[1]
    raw = edited.read_bytes()
    edited.write_bytes(raw.replace(b"\n\n", b"\n\nPostscript: bring the quokka umbrella.\n\n", 1))
    return edited


def full_index(settings):
    store = Store.open(settings.store, create=False)
    try:
        return keyword_index.build(store, store.generation())
    finally:
        store.close()


def live_ids(kw):
    return {cid for i, cid in enumerate(kw.ids) if kw.live is None or kw.live[i]}


def test_scorer_matches_bm25s_scores_exactly(docs, settings, hash_embedder):
    """The delta's scoring formula is bm25s': scored over the same documents with the same
    statistics, every score matches."""
    ingest_paths([docs], settings, embedder=hash_embedder)
    full = full_index(settings)
    tokens = keyword_index.tokenize(
        [keyword_index.keyword_text(*row) for row in _texts(settings, full.ids)], full.stemmer
    )
    scorer = keyword_delta.DeltaScorer(tokens, 0, 0, full.built.avgdl, lambda t: 0)
    import numpy as np

    for q in QUESTIONS[:20]:
        terms = [t for t in full.tokens(q) if t in full.retriever.vocab_dict]
        if not terms:
            continue
        np.testing.assert_allclose(
            scorer.scores(terms), full.retriever.get_scores(terms), rtol=1e-4, atol=1e-5
        )


def _texts(settings, ids):
    store = Store.open(settings.store, create=False)
    try:
        got = store.chunks(ids)
        return [got[i] for i in ids]
    finally:
        store.close()


def test_sync_catches_up_from_the_log_and_matches_a_rebuild(
    docs, settings, hash_embedder, monkeypatch
):
    ingest_paths([docs], settings, embedder=hash_embedder)
    before = index_state(settings)
    change_mail(docs)

    def no_full_read(*a, **k):
        raise AssertionError("the whole store was read back for a three-message change")

    monkeypatch.setattr(Store, "all_chunks", no_full_read)
    r = ingest_paths([docs], settings, embedder=hash_embedder)
    assert (r.totals["new"], r.totals["removed"], r.totals["updated"]) == (1, 1, 1)
    after = index_state(settings)
    assert after["build"] == before["build"]  # no rebuild: the same main index, plus a delta
    assert (settings.store / "bm25" / keyword_delta.DELTA).exists()
    monkeypatch.undo()

    got = keyword_index.load(settings.store)
    assert got is not None and got.delta is not None
    full = full_index(settings)
    assert got.generation == full.generation
    assert live_ids(got) == set(full.ids)
    assert got.n_docs == len(full.ids)

    # the new words are found, the deleted message's are gone
    assert got.search("zanzibar ferry", 3)[0][0].startswith(full.search("zanzibar ferry", 1)[0][0])
    assert got.search("quokka umbrella", 3)[0][0] == full.search("quokka umbrella", 1)[0][0]
    # every sample question ranks like a rebuild (scores within a hair: the main index's
    # statistics are those of before the change)
    worst: list[float] = []
    for q in QUESTIONS:
        a = dict(got.search(q, 10))
        b = dict(full.search(q, len(full.ids)))  # every chunk holding a term, with its score
        assert set(a) <= set(b), q
        fifth = sorted(b.values(), reverse=True)[: len(a)][-1] if a else 0
        for cid in list(a)[:5]:  # what the delta index ranks first, a rebuild ranks high too
            assert b[cid] >= 0.9 * fifth, (q, cid)
        worst += [abs(a[cid] - b[cid]) / b[cid] for cid in a]
    # the main index keeps its statistics of before the change (on 316 chunks, three changed
    # items move some idf a little): scores agree to 0.07 % typically, 6 % at worst
    assert sorted(worst)[len(worst) // 2] < 0.01 and max(worst) < 0.1
    # filters and term statistics see exactly the live documents
    for kinds in (("email",), ("event",), ("note", "todo")):
        m1, m2 = got.mask(kinds=kinds), full.mask(kinds=kinds)
        assert {got.ids[i] for i in m1.nonzero()[0]} == {full.ids[i] for i in m2.nonzero()[0]}
    for term in ("zanzibar", "quokka", "plumber", "invoic", "meet"):
        assert got.df(term) == full.df(term), term
        assert {got.ids[i] for i in got.postings(term)} == {
            full.ids[i] for i in full.postings(term)
        }
    threads = {m.get("thread_id") for m in full.meta if m.get("thread_id")}
    for t in sorted(threads)[:10]:
        assert {got.ids[i] for i in got.thread(t)} == {full.ids[i] for i in full.thread(t)}


def test_a_second_change_extends_the_delta_and_an_unchanged_sync_keeps_it(
    docs, settings, hash_embedder
):
    ingest_paths([docs], settings, embedder=hash_embedder)
    build = index_state(settings)["build"]
    change_mail(docs)
    ingest_paths([docs], settings, embedder=hash_embedder)
    cur = docs / "mail/Maildir/cur"
    (cur / "9998.M1P1.test:2,S").write_bytes(mail("walrus", "Walrus", "The walrus tank is clean."))
    ingest_paths([docs], settings, embedder=hash_embedder)
    state = index_state(settings)
    assert state["build"] == build
    got = keyword_index.load(settings.store)
    assert got is not None
    assert got.search("walrus tank", 1) and got.search("zanzibar", 1)
    assert live_ids(got) == set(full_index(settings).ids)
    ingest_paths([docs], settings, embedder=hash_embedder)  # nothing changed
    assert index_state(settings) == state


def test_a_reader_catches_up_in_memory(docs, settings, hash_embedder, monkeypatch):
    """A page or notebook holding the index follows new mail from the log: neither a rebuild
    nor a reload of the saved index (tens of MB for a big mailbox) per change."""
    from rag.retrieval import Retriever

    ingest_paths([docs], settings, embedder=hash_embedder)
    reader = Store.open(settings.store, create=False)
    try:
        retriever = Retriever(reader, hash_embedder, settings)
        assert not retriever.keyword.search("zanzibar", 1)

        def neither(*a, **k):
            raise AssertionError("the reader rebuilt or reloaded the index")

        monkeypatch.setattr(keyword_index, "build", neither)
        monkeypatch.setattr(keyword_index, "load", neither)
        change_mail(docs)
        ingest_paths([docs], settings, embedder=hash_embedder)  # the writer saves its delta
        kw = retriever.keyword
        assert kw.generation == reader.generation()
        assert kw.search("zanzibar", 1) and kw.search("quokka", 1)
        (docs / "mail/Maildir/cur/9997.M1P1.test:2,S").write_bytes(
            mail("okapi", "Okapi", "An okapi visited the garden.")
        )
        # a change the writer has not indexed yet (it stopped before): read from the log too
        monkeypatch.setattr(keyword_index, "ensure_current", lambda *a, **k: None)
        ingest_paths([docs], settings, embedder=hash_embedder)
        kw = retriever.keyword
        assert kw.search("okapi garden", 1) and kw.search("zanzibar", 1)
        monkeypatch.undo()
        assert live_ids(kw) == set(full_index(settings).ids)
    finally:
        reader.close()


def test_a_big_change_is_folded_in_and_equals_a_rebuild(docs, settings, hash_embedder, monkeypatch):
    """A delta past the fold limit is folded into a new full index from what the saved index
    holds (no chunk is read back from the store, nothing is tokenised again): the same chunks,
    terms and scores as a rebuild from the store, and the log is trimmed to it."""
    import numpy as np

    ingest_paths([docs], settings, embedder=hash_embedder)
    before = index_state(settings)
    monkeypatch.setattr(keyword_delta, "FOLD_MIN", 0)
    monkeypatch.setattr(keyword_delta, "FOLD_SHARE", 0.0)
    change_mail(docs)

    def no_full_read(*a, **k):
        raise AssertionError("the whole store was read back to fold three changes in")

    monkeypatch.setattr(Store, "all_chunks", no_full_read)
    ingest_paths([docs], settings, embedder=hash_embedder)
    monkeypatch.undo()
    after = index_state(settings)
    assert after["build"] != before["build"]
    assert not (settings.store / "bm25" / keyword_delta.DELTA).exists()
    store = Store.open(settings.store, create=False)
    try:  # the log is trimmed to the new build: an index from before it must rebuild
        assert store.manifest.changed_since(before["log_seq"]) is None
        assert store.manifest.changed_since(after["log_seq"]) == (after["log_seq"], set())
    finally:
        store.close()
    got = keyword_index.load(settings.store)
    full = full_index(settings)
    assert got is not None and got.delta is None and got.live is None
    assert sorted(got.ids) == sorted(full.ids) and len(got.ids) == len(full.ids)
    assert set(got.retriever.vocab_dict) == set(full.retriever.vocab_dict)
    assert got.built.avgdl == pytest.approx(full.built.avgdl, rel=1e-12)
    order = [got.ids.index(cid) for cid in full.ids]  # full's documents in got's numbering
    assert np.array_equal(np.load(settings.store / "bm25/lengths.npy")[order], full.lengths)
    for q in QUESTIONS + ["zanzibar ferry", "quokka umbrella"]:
        terms = [t for t in full.tokens(q) if t in full.retriever.vocab_dict]
        if terms:
            np.testing.assert_allclose(
                got.retriever.get_scores(terms)[order],
                full.retriever.get_scores(terms),
                rtol=1e-6,
                atol=1e-7,
            )
    assert got.search("zanzibar", 1)[0][0] == full.search("zanzibar", 1)[0][0]


def test_a_reader_far_behind_folds_instead_of_rebuilding(
    docs, settings, hash_embedder, monkeypatch
):
    from rag.retrieval import Retriever

    ingest_paths([docs], settings, embedder=hash_embedder)
    reader = Store.open(settings.store, create=False)
    try:
        retriever = Retriever(reader, hash_embedder, settings)
        assert not retriever.keyword.search("zanzibar", 1)
        monkeypatch.setattr(keyword_delta, "FOLD_MIN", 0)
        monkeypatch.setattr(keyword_delta, "FOLD_SHARE", 0.0)
        monkeypatch.setattr(keyword_index, "ensure_current", lambda *a, **k: None)
        change_mail(docs)
        ingest_paths([docs], settings, embedder=hash_embedder)  # the index left behind

        def no_build(*a, **k):
            raise AssertionError("the reader rebuilt the index from the store")

        monkeypatch.setattr(keyword_index, "build", no_build)
        kw = retriever.keyword
        assert kw.delta is None and kw.search("zanzibar", 1)
        monkeypatch.undo()
        assert sorted(kw.ids) == sorted(full_index(settings).ids)
    finally:
        reader.close()


def test_a_rebuilt_store_does_not_trust_the_old_log_position(docs, settings, hash_embedder):
    ingest_paths([docs], settings, embedder=hash_embedder)
    old = index_state(settings)
    ingest_paths([docs], settings, embedder=hash_embedder, rebuild=True)
    new = index_state(settings)
    assert new["log_id"] != old["log_id"] and new["build"] != old["build"]
    got = keyword_index.load(settings.store)
    assert got is not None and live_ids(got) == set(full_index(settings).ids)


def test_a_run_stopped_mid_write_is_caught_up_by_the_next(
    docs, settings, hash_embedder, monkeypatch
):
    """A run that dies between logging a write and making it (the journal pending, the
    generation moved on) leaves an index the next run catches up, without a rebuild."""
    ingest_paths([docs], settings, embedder=hash_embedder)
    build = index_state(settings)["build"]
    change_mail(docs)
    real = Store.stage

    def dies(self, ids, documents, metadatas):  # logged, then the process "dies"
        self._changed(m["item_id"] for m in metadatas)
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "stage", dies)
    with pytest.raises(KeyboardInterrupt):
        ingest_paths([docs], settings, embedder=hash_embedder)
    monkeypatch.setattr(Store, "stage", real)
    r = ingest_paths([docs], settings, embedder=hash_embedder)
    assert r.repaired >= 1
    assert index_state(settings)["build"] == build
    got = keyword_index.load(settings.store)
    assert got is not None and live_ids(got) == set(full_index(settings).ids)
    assert got.search("zanzibar ferry", 1) and got.search("quokka umbrella", 1)


def test_a_delta_of_deletions_only_keeps_them_dead(docs, settings, hash_embedder):
    """A delta that holds no chunks (only deleted items) is still a delta: the next change
    builds on it, in the saved index and in a reader's memory."""
    from rag.retrieval import Retriever

    ingest_paths([docs], settings, embedder=hash_embedder)
    reader = Store.open(settings.store, create=False)
    try:
        retriever = Retriever(reader, hash_embedder, settings)
        assert retriever.keyword.delta is None
        cur = docs / "mail/Maildir/cur"
        sorted(cur.iterdir())[0].unlink()
        ingest_paths([docs], settings, embedder=hash_embedder)
        assert len(retriever.keyword.delta) == 0 and retriever.keyword.delta.dead
        (cur / "9996.M1P1.test:2,S").write_bytes(mail("ibis", "Ibis", "An ibis on the roof."))
        ingest_paths([docs], settings, embedder=hash_embedder)
        full = set(full_index(settings).ids)
        assert live_ids(retriever.keyword) == full
        saved = keyword_index.load(settings.store)
        assert saved is not None and live_ids(saved) == full
    finally:
        reader.close()
