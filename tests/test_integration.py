"""sample_docs/ through the real packaged embedding model into a real Chroma store."""

import pytest

from ingest.pipeline import ingest_paths
from ingest.store import Store

from .conftest import SAMPLE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample_ingest(tmp_path_factory, real_embedder):
    """(settings, report) of one ingest of sample_docs/ (the session's sample_store fixture is a path)."""
    from ingest.core.settings import load_settings

    from .conftest import SAMPLE_NOW

    s = load_settings(
        store=tmp_path_factory.mktemp("store"), timezone="Europe/London", now=SAMPLE_NOW
    )
    report = ingest_paths([SAMPLE], s, embedder=real_embedder)
    return s, report


def test_everything_is_stored(sample_ingest):
    s, report = sample_ingest
    t = report.totals
    assert report.failed == 0 and not report.unsupported
    assert report.by_kind["email"]["new"] == 49
    assert report.by_kind["attachment"]["new"] == 1 and report.by_kind["document"]["new"] == 2
    assert report.by_kind["todo"]["new"] == 19 and report.by_kind["note"]["new"] == 4
    assert report.by_kind["event"]["new"] > 100  # recurring events expanded
    assert t["new"] == t["found"]
    store = Store.open(s.store, create=False)
    assert store.count() == report.chunks_embedded == store.manifest.total_chunks()
    store.close()


def test_rerun_embeds_nothing(sample_ingest, real_embedder, monkeypatch):
    s, _ = sample_ingest
    embedded: list[str] = []
    real = real_embedder.embed
    monkeypatch.setattr(real_embedder, "embed", lambda texts: embedded.extend(texts) or real(texts))
    r = ingest_paths([SAMPLE], s, embedder=real_embedder)
    assert embedded == [] and r.chunks_embedded == 0 and r.totals["unchanged"] == r.totals["found"]


def test_chunks_fit_the_model(sample_ingest, real_embedder):
    s, _ = sample_ingest
    store = Store.open(s.store, create=False)
    docs = store.collection.get(include=["documents"])["documents"]
    store.close()
    lens = [len(real_embedder.tokenizer(d)["input_ids"]) for d in docs]
    assert max(lens) <= real_embedder.max_seq_length


def test_real_embeddings_find_the_rescheduled_dentist_mail(sample_ingest, real_embedder):
    s, _ = sample_ingest
    store = Store.open(s.store, create=False)
    q = real_embedder.embed(["When is my dentist appointment?"])
    res = store.collection.query(query_embeddings=q, n_results=5, where={"kind": "email"})
    store.close()
    subjects = [m["subject"] for m in res["metadatas"][0]]
    texts = " ".join(res["documents"][0])
    assert any("Smile Dental" in sub for sub in subjects)
    assert "Thursday 19 March 2026 at 15:00" in texts
