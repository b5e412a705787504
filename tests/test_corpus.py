"""Real, messy public data from ../shared/corpus (skipped when absent)."""

import pytest

from ingest.pipeline import ingest_paths

pytestmark = pytest.mark.corpus


def test_dry_run_over_the_whole_corpus_accounts_for_every_file(corpus, settings, hash_embedder, capsys):
    r = ingest_paths([corpus], settings, embedder=hash_embedder, dry_run=True)
    assert r.files_seen == r.files_parsed > 7000
    assert all(f.reason for f in r.failures) and all(f.reason for f in r.unsupported)
    # every message was read: the only failures under mail/ are broken attachments, never a message
    mail_fail = [f for f in r.failures if "/corpus/mail/" in f.locator and " > " not in f.locator]
    assert mail_fail == []
    assert r.by_kind["email"]["found"] > 9000
    encrypted = {f.locator.rsplit("/", 1)[-1] for f in r.failures if f.reason == "encrypted"}
    assert {"aes-256.pdf", "rc4-40.pdf"} <= encrypted
    with capsys.disabled():
        print(f"\ncorpus dry run: {r.files_seen} files, {dict(r.totals)}, {r.chunks_planned} chunks, "
              f"failed {r.failed} {dict(r.failure_reasons())}, unsupported {len(r.unsupported)}, {r.seconds:.0f}s")


@pytest.mark.slow
def test_full_ingest_of_real_messages_with_embeddings(corpus, settings, real_embedder):
    folder = corpus / "mail/spamassassin/Maildir/.hard-ham"
    r = ingest_paths([folder], settings, embedder=real_embedder)
    assert r.by_kind["email"]["new"] == 250 and [f for f in r.failures if " > " not in f.locator] == []
    again = ingest_paths([folder], settings, embedder=real_embedder)
    assert again.chunks_embedded == 0 and again.files_skipped_unchanged == 250
