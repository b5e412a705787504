"""Real, messy public data from ../shared/corpus (skipped when absent)."""

import pytest

from ingest.pipeline import ingest_paths

pytestmark = pytest.mark.corpus


def test_dry_run_over_the_whole_corpus_accounts_for_every_file(
    corpus, settings, hash_embedder, capsys
):
    # a 20 s per-file limit instead of the default 120 s: the corpus's 619-page PDF (~45 s to read
    # here) must be stopped, reported as "timed out", and the run go on
    # OCR of the corpus's scans and pictures has its own test (tests/test_ocr.py); here it would
    # add minutes to every CI run
    # The mail (7,450 files) is read in a second process while this one reads the rest: the
    # same dry run, on both cores, in half the time.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    settings = settings.model_copy(update={"max_file_seconds": 20, "ocr": False})
    rest = sorted(p for p in corpus.iterdir() if p.name != "mail")
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        mail_run = pool.submit(_dry_run, [corpus / "mail"], settings)
        r = ingest_paths(rest, settings, embedder=hash_embedder, dry_run=True)
        m = mail_run.result()
    assert r.files_seen + m.files_seen == r.files_parsed + m.files_parsed > 7000
    for x in (r, m):
        assert all(f.reason for f in x.failures) and all(f.reason for f in x.unsupported)
    # every message was read: the only failures under mail/ are broken attachments, never a message
    assert [f for f in m.failures if " > " not in f.locator] == []
    assert m.by_kind["email"]["found"] > 9000
    encrypted = {f.locator.rsplit("/", 1)[-1] for f in r.failures if f.reason == "encrypted"}
    assert {"aes-256.pdf", "rc4-40.pdf"} <= encrypted
    timed_out = {f.locator.rsplit("/", 1)[-1] for f in r.failures if f.reason == "timed out"}
    assert "DA-619p.pdf" in timed_out
    with capsys.disabled():
        failed = r.failure_reasons() + m.failure_reasons()
        print(
            f"\ncorpus dry run: {r.files_seen + m.files_seen} files, {dict(r.totals + m.totals)}, "
            f"{r.chunks_planned + m.chunks_planned} chunks, failed {r.failed + m.failed} "
            f"{dict(failed)}, unsupported {len(r.unsupported) + len(m.unsupported)}, "
            f"{max(r.seconds, m.seconds):.0f}s"
        )


def _dry_run(paths, settings):
    """A dry run in a fresh process (its own embedder: the tokenizer is all a dry run needs)."""
    from ingest.embedding import make_embedder
    from tests.fakes import HashEmbedder

    emb = HashEmbedder(make_embedder(settings).tokenizer)
    return ingest_paths(paths, settings, embedder=emb, dry_run=True)


@pytest.mark.slow
def test_full_ingest_of_real_messages_with_embeddings(corpus, settings, real_embedder, tmp_path):
    """50 of the hard-ham messages (HTML-heavy, odd charsets) embedded end to end; the whole
    corpus is embedded by hand (docs/benchmarks.md), which takes too long for every CI run."""
    import shutil

    folder = tmp_path / "Maildir"
    (folder / "cur").mkdir(parents=True)
    for f in sorted((corpus / "mail/spamassassin/Maildir/.hard-ham/cur").iterdir())[:50]:
        shutil.copy(f, folder / "cur" / f.name)
    r = ingest_paths([folder], settings, embedder=real_embedder)
    assert (
        r.by_kind["email"]["new"] == 50 and [f for f in r.failures if " > " not in f.locator] == []
    )
    assert r.chunks_embedded >= 50
    again = ingest_paths([folder], settings, embedder=real_embedder)
    assert again.chunks_embedded == 0 and again.files_skipped_unchanged == 50
