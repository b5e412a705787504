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
    settings = settings.model_copy(update={"max_file_seconds": 20, "ocr": False})
    r = ingest_paths([corpus], settings, embedder=hash_embedder, dry_run=True)
    assert r.files_seen == r.files_parsed > 7000
    assert all(f.reason for f in r.failures) and all(f.reason for f in r.unsupported)
    # every message was read: the only failures under mail/ are broken attachments, never a message
    mail_fail = [f for f in r.failures if "/corpus/mail/" in f.locator and " > " not in f.locator]
    assert mail_fail == []
    assert r.by_kind["email"]["found"] > 9000
    encrypted = {f.locator.rsplit("/", 1)[-1] for f in r.failures if f.reason == "encrypted"}
    assert {"aes-256.pdf", "rc4-40.pdf"} <= encrypted
    timed_out = {f.locator.rsplit("/", 1)[-1] for f in r.failures if f.reason == "timed out"}
    assert "DA-619p.pdf" in timed_out
    with capsys.disabled():
        print(
            f"\ncorpus dry run: {r.files_seen} files, {dict(r.totals)}, {r.chunks_planned} chunks, "
            f"failed {r.failed} {dict(r.failure_reasons())}, unsupported {len(r.unsupported)}, {r.seconds:.0f}s"
        )


@pytest.mark.slow
def test_full_ingest_of_real_messages_with_embeddings(corpus, settings, real_embedder, tmp_path):
    """100 of the hard-ham messages (HTML-heavy, odd charsets) embedded end to end; the whole
    corpus is embedded by hand (docs/benchmarks.md), which takes too long for every CI run."""
    import shutil

    folder = tmp_path / "Maildir"
    (folder / "cur").mkdir(parents=True)
    for f in sorted((corpus / "mail/spamassassin/Maildir/.hard-ham/cur").iterdir())[:100]:
        shutil.copy(f, folder / "cur" / f.name)
    r = ingest_paths([folder], settings, embedder=real_embedder)
    assert (
        r.by_kind["email"]["new"] == 100 and [f for f in r.failures if " > " not in f.locator] == []
    )
    assert r.chunks_embedded >= 100
    again = ingest_paths([folder], settings, embedder=real_embedder)
    assert again.chunks_embedded == 0 and again.files_skipped_unchanged == 100
