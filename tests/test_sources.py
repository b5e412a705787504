"""The store remembers its sources: ``pdq sync`` re-syncs every root without paths, ``pdq forget``
removes a root (or a sub-path) and what only it held, failed files are retried and listed."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from ingest.core.errors import IngestError
from ingest.pipeline import forget_path, ingest_paths, sync_roots
from rag import Assistant
from tests.test_sync import mail, maildir


def two_folders(tmp_path):
    """Two Maildirs; message m-shared is in both (one item, two links)."""
    a, b = tmp_path / "a", tmp_path / "b"
    for root, msgs in ((a, ("m-a1", "m-a2", "m-shared")), (b, ("m-b1", "m-b2", "m-shared"))):
        cur = maildir(root) / "cur"
        for i, m in enumerate(msgs):
            (cur / f"{i}.{m}:2,S").write_bytes(mail(m, f"Subject {m}", f"Body of {m}."))
    return a, b


def test_sync_without_paths_sees_a_new_and_a_deleted_message(tmp_path, settings, hash_embedder):
    a, b = two_folders(tmp_path)
    first = ingest_paths([a, b], settings, embedder=hash_embedder)
    assert first.totals["new"] == 5
    roots = Assistant(settings=settings, embedder=hash_embedder).sources()
    assert [r.path for r in roots] == [str(a), str(b)] and [r.items for r in roots] == [3, 3]
    (maildir(a) / "cur" / "9.m-a3:2,S").write_bytes(mail("m-a3", "Subject m-a3", "A new one."))
    (maildir(b) / "cur" / "0.m-b1:2,S").unlink()
    r = sync_roots(settings, embedder=hash_embedder)
    assert (r.totals["new"], r.totals["removed"]) == (1, 1)
    assert {m["title"] for _, _, m in Assistant(settings=settings).store.chunks_where(None)} == {
        "Subject m-a1",
        "Subject m-a2",
        "Subject m-a3",
        "Subject m-shared",
        "Subject m-b2",
    }


def test_forget_a_root_keeps_the_other_and_the_shared_message(tmp_path, settings, hash_embedder):
    a, b = two_folders(tmp_path)
    ingest_paths([a, b], settings, embedder=hash_embedder)
    r = forget_path(a, settings)
    assert r.totals["removed"] == 2  # m-a1, m-a2; m-shared is also in b
    left = {m["title"] for _, _, m in Assistant(settings=settings).store.chunks_where(None)}
    assert left == {"Subject m-b1", "Subject m-b2", "Subject m-shared"}
    assert [x.path for x in Assistant(settings=settings).sources()] == [str(b)]
    again = sync_roots(settings, embedder=hash_embedder)  # a is not read again
    assert again.totals["new"] == 0 and again.files_seen == 3
    with pytest.raises(IngestError, match="not in this store"):
        forget_path(tmp_path / "elsewhere", settings)


def test_forget_a_sub_folder_and_sync_skips_it(tmp_path, settings, hash_embedder):
    root = tmp_path / "mail"
    a, b = two_folders(root)
    ingest_paths([root], settings, embedder=hash_embedder)
    forget_path(b, settings)
    titles = {m["title"] for _, _, m in Assistant(settings=settings).store.chunks_where(None)}
    assert titles == {"Subject m-a1", "Subject m-a2", "Subject m-shared"}
    r = sync_roots(settings, embedder=hash_embedder)
    assert r.totals["new"] == 0  # b stays forgotten
    ingest_paths([b], settings, embedder=hash_embedder)  # until it is ingested again by hand
    assert len(Assistant(settings=settings).store.chunks_where(None)) == 5


def test_failed_files_are_listed_and_retried(tmp_path, settings, hash_embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.md").write_text("# Ok\n\nFine.\n")
    bad = docs / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not really a pdf")
    first = ingest_paths([docs], settings, embedder=hash_embedder)
    assert first.failed == 1
    status = Assistant(settings=settings).status()
    assert [p for p, _ in status.failed_files] == [str(bad)]
    assert "tried again by `pdq sync`" in str(status)
    again = sync_roots(settings, embedder=hash_embedder)
    assert again.files_parsed == 1 and again.failed == 1  # read again although unchanged
    shutil.copy(
        os.path.join(
            os.path.dirname(__file__), "..", "sample_docs", "documents", "tenancy-agreement.pdf"
        ),
        bad,
    )
    fixed = sync_roots(settings, embedder=hash_embedder)
    assert fixed.failed == 0 and fixed.totals["new"] == 1
    assert Assistant(settings=settings).status().failed_files == []


def test_a_missing_root_is_reported_and_its_items_kept(tmp_path, settings, hash_embedder):
    a, b = two_folders(tmp_path)
    ingest_paths([a, b], settings, embedder=hash_embedder)
    shutil.move(a, tmp_path / "unplugged")
    r = sync_roots(settings, embedder=hash_embedder)
    assert [(f.locator, f.reason) for f in r.failures] == [(str(a), "missing")]
    assert len(Assistant(settings=settings).store.chunks_where(None)) == 5


@pytest.mark.slow
def test_sync_sources_and_forget_from_the_cli(tmp_path):
    """The real CLI on a fresh store: ingest two folders, +1/−1, `pdq sync`, `pdq forget`."""
    from typer.testing import CliRunner

    from rag.cli import app

    a, b = two_folders(tmp_path)
    env = {"PDQ_STORE": str(tmp_path / "store"), "HF_HUB_OFFLINE": "1"}
    run = CliRunner().invoke
    assert run(app, ["ingest", str(a), str(b), "--json"], env=env).exit_code == 0
    (maildir(a) / "cur" / "9.m-a3:2,S").write_bytes(mail("m-a3", "Subject m-a3", "A new one."))
    (maildir(b) / "cur" / "0.m-b1:2,S").unlink()
    r = run(app, ["sync", "--json"], env=env)
    assert r.exit_code == 0, r.output
    totals = json.loads(r.output)["totals"]
    assert (totals.get("new"), totals.get("removed")) == (1, 1)
    listed = run(app, ["sources"], env=env)
    assert str(a) in listed.output and str(b) in listed.output
    gone = run(app, ["forget", str(a)], env=env)
    assert gone.exit_code == 0 and "3 items removed" in gone.output  # m-a1, m-a2, m-a3
    missing = run(app, ["forget", str(tmp_path / "nowhere")], env=env)
    assert missing.exit_code == 1 and "not in this store" in missing.output


def _tricky_tree(root):
    """Folders walk() must prune: a Maildir's tmp/, a trashed message, a hidden folder, a
    Maildir++ subfolder, a .pdqignore'd file and folder, a message file directly in a Maildir."""
    a, b = two_folders(root)
    box = maildir(a)
    (box / "tmp" / "5.partial").write_bytes(mail("m-tmp", "Subject tmp", "Half written."))
    (box / "cur" / "6.m-gone:2,ST").write_bytes(mail("m-gone", "Subject gone", "Trashed."))
    (box / "stray.eml").write_bytes(mail("m-stray", "Subject stray", "Not in cur/new."))
    sub = maildir(a, "Work.Clients")
    (sub / "new" / "7.m-w").write_bytes(mail("m-w", "Subject w", "Work."))
    (root / ".hidden").mkdir()
    (root / ".hidden" / "n.md").write_text("# Hidden\n")
    notes = root / "notes"
    (notes / "skip").mkdir(parents=True)
    (notes / ".pdqignore").write_text("skip\n*.tmp\n")
    (notes / "keep.md").write_text("# Keep\n")
    (notes / "x.tmp").write_text("scratch")
    (notes / "skip" / "in.md").write_text("# In\n")
    (notes / "todo.txt").write_text("(A) call Anna\n")
    (root / "inbox.mbox").write_bytes(b"From a@b Mon Jan 1 00:00:00 2024\n" + mail("m-x", "X", "x"))
    return root


@pytest.mark.parametrize("where", ["tricky", "sample_docs", "corpus"])
def test_source_at_agrees_with_walk_on_every_file(tmp_path, where):
    """A watcher's targeted sync sees a file exactly as a full walk of its root does."""
    from pathlib import Path

    from ingest.sources.discovery import source_at, walk

    if where == "tricky":
        roots = [_tricky_tree(tmp_path / "mail")]
    elif where == "sample_docs":
        roots = [Path(__file__).parent.parent / "sample_docs"]
    else:
        corpus = Path(__file__).parent.parent.parent / "shared" / "corpus" / "mail"
        if not corpus.is_dir():
            pytest.skip("the shared corpus is not here")
        roots = sorted(p for p in corpus.iterdir() if p.is_dir())
    for root in roots:
        root = root.resolve()
        walked = {s.path: s for s in walk(root)}
        files = [Path(d) / f for d, _, fs in os.walk(root) for f in fs]
        assert len(files) >= len(walked) > 0
        for f in files:
            assert source_at(f, root) == walked.get(f), f


def test_sync_changed_reads_only_the_changed_paths(tmp_path, settings, hash_embedder):
    from ingest.pipeline import sync_changed

    root = _tricky_tree(tmp_path / "mail")
    first = ingest_paths([root], settings, embedder=hash_embedder)
    box = maildir(root / "a")
    new = box / "new" / "9.m-a3"
    new.write_bytes(mail("m-a3", "Subject m-a3", "A new one."))
    gone = next((root / "b" / "Maildir" / "cur").glob("*m-b1*"))
    gone.unlink()
    r = sync_changed([new, gone, box / "tmp" / "5.partial"], settings, embedder=hash_embedder)
    assert (r.totals["new"], r.totals["removed"]) == (1, 1)
    assert r.files_seen == 1 < first.files_seen  # nothing else of the root was looked at
    # a folder moved in, a folder deleted, a path outside every root: one sync
    extra = tmp_path / "elsewhere"
    extra.mkdir()
    (extra / "plan.md").write_text("# Plan\n\nThe garden plan.\n")
    moved = root / "notes" / "moved-in"
    shutil.move(extra, moved)
    shutil.rmtree(box / ".Work.Clients")
    r = sync_changed(
        [moved, box / ".Work.Clients", tmp_path / "outside.md"], settings, embedder=hash_embedder
    )
    assert (r.totals["new"], r.totals["removed"]) == (1, 1)
    after = titles(settings)
    assert "Subject m-a3" in after and "Subject m-b1" not in after and "Subject w" not in after
    assert "Subject m-shared" in after  # in b too, and a's copy untouched
    # the same state as a full sync would reach
    full = sync_roots(settings, embedder=hash_embedder)
    assert (full.totals.get("new", 0), full.totals.get("removed", 0)) == (0, 0)


def test_a_change_under_an_unplugged_root_is_left_alone(tmp_path, settings, hash_embedder):
    from ingest.pipeline import sync_changed

    a, b = two_folders(tmp_path)
    ingest_paths([a, b], settings, embedder=hash_embedder)
    shutil.move(a, tmp_path / "unplugged")
    r = sync_changed([a / "Maildir" / "cur"], settings, embedder=hash_embedder)
    assert r.totals.get("removed", 0) == 0 and len(titles(settings)) == 5


def titles(settings) -> set[str]:
    a = Assistant(settings=settings)
    try:
        return {m["title"] for _, _, m in a.store.chunks_where(None)}
    finally:
        a.close()


def test_watch_picks_up_new_and_trashed_mail(tmp_path, settings, hash_embedder):
    """`pdq watch` on a real folder: a message delivered the way a mail server does (written to
    tmp/, renamed into new/) is searchable within 5 s; one the client flags trashed (T) goes."""
    import threading
    import time

    from ingest.watch import watch

    a, b = two_folders(tmp_path)
    ingest_paths([a, b], settings, embedder=hash_embedder)
    stop, ready = threading.Event(), threading.Event()
    reports = []
    t = threading.Thread(
        target=watch,
        kwargs=dict(
            settings=settings,
            embedder=hash_embedder,
            debounce=0.3,
            stop=stop,
            ready=ready,
            on_sync=reports.append,
        ),
    )
    t.start()
    try:
        assert ready.wait(30) and _until(lambda: reports)  # the catch-up sync ran
        box = maildir(a)
        tmp = box / "tmp" / "77.m-new"
        tmp.write_bytes(mail("m-new", "Subject m-new", "Just arrived."))
        arrived = time.monotonic()
        tmp.rename(box / "new" / "77.m-new")
        assert _until(lambda: "Subject m-new" in titles(settings), 30)
        assert time.monotonic() - arrived < 5
        old = next((box / "cur").glob("*m-a1*"))
        old.rename(old.with_name(old.name.replace(":2,S", ":2,ST")))  # trashed in the client
        assert _until(lambda: "Subject m-a1" not in titles(settings), 30)
    finally:
        stop.set()
        t.join(30)
    assert not t.is_alive()
    # the catch-up sync walked both roots; each change read only the file it touched
    assert reports[0].files_seen == 6
    assert all(r.files_seen <= 1 for r in reports[1:]), [r.files_seen for r in reports]


def _until(check, timeout: float = 10) -> bool:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_mbox_messages_marked_deleted_are_not_stored(tmp_path, settings, hash_embedder):
    from email.message import EmailMessage

    box = tmp_path / "mail.mbox"
    with box.open("wb") as f:
        for i, status in enumerate(("RO", "D", None)):
            m = EmailMessage()
            m["From"] = "Ann <ann@example.org>"
            m["Subject"] = f"Message {i}"
            m["Message-ID"] = f"<del{i}@example.org>"
            if status:
                m["Status"] = status
            if i == 2:
                m["X-Mozilla-Status"] = "0009"  # read + expunged (Thunderbird)
            m.set_content(f"Body {i}.")
            f.write(b"From a@example.org Mon Mar  2 10:00:00 2026\n" + bytes(m) + b"\n")
    ingest_paths([box], settings, embedder=hash_embedder)
    assert titles(settings) == {"Message 0"}


def test_sync_from_a_fresh_python_process(tmp_path, settings, hash_embedder):
    """The library called first thing in a notebook: `sync_roots` opened the store before pdq's
    privacy switches were set, and Chroma refused the second client ("different settings")."""
    import subprocess
    import sys

    from ingest.core.privacy import OFFLINE_ENV

    a, b = two_folders(tmp_path)
    ingest_paths([a, b], settings, embedder=hash_embedder)
    (maildir(a) / "cur" / "9.m-a3:2,S").write_bytes(mail("m-a3", "Subject m-a3", "A new one."))
    code = (
        "import sys; from pathlib import Path\n"
        "from ingest.core.settings import load_settings\n"
        "from ingest.embedding import make_embedder\n"
        "from ingest.pipeline import sync_roots\n"
        "from tests.fakes import HashEmbedder\n"
        f"s = load_settings(store=Path({str(settings.store)!r}), timezone='Europe/London')\n"
        "r = sync_roots(s, embedder=HashEmbedder(make_embedder(s).tokenizer))\n"
        "print(r.totals['new'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENV}
    env["HF_HUB_OFFLINE"] = "1"  # the tests' rule; the rest is left for pdq to set
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "1"
