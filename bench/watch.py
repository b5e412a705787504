"""Watch benchmark: what one new mail costs in a big Maildir.

Builds a Maildir of N messages (default 50,000: real messages from ../shared/corpus's mboxes,
each copy with its own Message-ID and subject; generated ones when the corpus is absent),
ingests it once, then times, on the same store:

  (a) ``pdq sync`` with nothing changed (walk + stat of every file);
  (b) one message delivered as a mail server does (tmp/ → new/), synced the way ``pdq watch``
      does: ``pipeline.sync_changed`` of the paths its events named (the keyword index catches
      up from the store's log: ingest/store/keyword_delta.py);
  (c) another message synced the way the watcher did before: the whole root (``sync_roots``);
  (e) folding the keyword delta into a new full index (what a sync does once the delta passes
      its share of the index; timed, not saved);

with each sync's split (reading, keyword index, embedding). The store is built with a hashing
embedder (tests/fakes.py) so that building 50,000 messages takes minutes, not hours: the figures
are the sync's own costs; the real model's share of one message is timed separately (d).

    .venv/bin/python bench/watch.py [--messages 50000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import mailbox
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared/corpus/mail/spamassassin/mbox"


def messages(n: int) -> list[bytes]:
    """``n`` distinct messages: the corpus' real ones repeated under new ids, or generated."""
    pool: list[bytes] = []
    for mbox in sorted(CORPUS.glob("*.mbox")) if CORPUS.is_dir() else []:
        pool += [m.as_bytes() for m in mailbox.mbox(str(mbox))]
    if not pool:
        for i in range(500):
            m = EmailMessage()
            m["From"], m["To"], m["Subject"] = "a@example.com", "b@example.com", f"Note {i}"
            m.set_content(f"Generated message {i} about the garden, the budget and the trip.")
            pool.append(m.as_bytes())
    out = []
    for i in range(n):
        raw = pool[i % len(pool)]
        head, sep, body = raw.partition(b"\n\n")
        lines = [
            ln
            for ln in head.split(b"\n")
            if not ln.lower().startswith((b"message-id:", b"subject:"))
        ]
        lines += [f"Message-ID: <bench-{i}@watch.example>".encode(), f"Subject: copy {i}".encode()]
        out.append(b"\n".join(lines) + sep + body)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--keep", type=Path, help="build the Maildir and store here, reuse them")
    args = ap.parse_args()

    from ingest.core.privacy import apply_offline_env
    from ingest.core.settings import load_settings
    from ingest.embedding import make_embedder
    from ingest.pipeline import ingest_paths, sync_changed, sync_roots
    from tests.fakes import HashEmbedder

    apply_offline_env()
    with tempfile.TemporaryDirectory() as tmpdir:
        base = args.keep or Path(tmpdir)
        box = base / f"maildir-{args.messages}" / "Maildir"
        settings = load_settings(store=base / f"store-{args.messages}")
        real = make_embedder(settings)
        emb = HashEmbedder(real.tokenizer)
        if not (box / "cur").is_dir():
            for sub in ("cur", "new", "tmp"):
                (box / sub).mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            for i, raw in enumerate(messages(args.messages)):
                (box / "cur" / f"{i}.bench:2,S").write_bytes(raw)
            print(f"wrote {args.messages:,} messages in {time.perf_counter() - t:.0f}s")
        if not (settings.store / "manifest.sqlite").exists():
            r = ingest_paths([box.parent], settings, embedder=emb)
            print(
                f"first ingest: {r.files_seen:,} files, {r.totals.get('new', 0):,} items, "
                f"{r.seconds:.0f}s (keyword index {r.timings.get('index', 0):.1f}s)"
            )

        from ingest.pipeline import sync_keyword_index
        from ingest.store import Store

        store = Store.open(settings.store, create=False)
        try:  # a store kept from another pdq version: its keyword index in this one's format
            t = time.perf_counter()
            sync_keyword_index(store)
            print(
                f"keyword index brought to this version's format in {time.perf_counter() - t:.1f}s"
            )
        finally:
            store.close()

        def line(name: str, r) -> str:
            t = r.timings
            return (
                f"| {name} | {r.seconds:.2f} | {r.files_seen:,} | {t.get('index', 0):.2f} | "
                f"{t.get('embed', 0):.2f} | {dict(r.totals)} |"
            )

        print("| sync | seconds | files looked at | keyword index (s) | embedding (s) | items |")
        print("|---|---|---|---|---|---|")
        print(line("(a) `pdq sync`, nothing changed", sync_roots(settings, embedder=emb)))
        stamp = int(time.time())
        for how in ("(b) watch: the changed paths", "(c) before: the whole root"):
            m = EmailMessage()
            m["From"], m["To"] = "anna@example.com", "me@example.com"
            m["Subject"], m["Message-ID"] = f"Arrived {how}", f"<new-{stamp}-{how[1]}@w.example>"
            m.set_content("The plumber comes on Thursday at nine; the invoice follows.")
            tmp, new = box / "tmp" / f"{stamp}.{how[1]}", box / "new" / f"{stamp}.{how[1]}"
            tmp.write_bytes(m.as_bytes())
            tmp.rename(new)
            if how.startswith("(b)"):
                r = sync_changed([tmp, new], settings, embedder=emb)
            else:
                r = sync_roots(settings, embedder=emb)
            print(line(how, r))
        from ingest.store import keyword_index

        store = Store.open(settings.store, create=False)
        try:  # what a sync does once the delta passes its share of the index, without saving
            t = time.perf_counter()
            folded = keyword_index.fold_in(settings.store, store, store.generation())
            took = time.perf_counter() - t
        finally:
            store.close()
        print(
            f"(e) folding the delta into a new full index: {took:.1f}s for "
            f"{len(folded.ids) if folded else 0:,} chunks (None: it could not; a rebuild instead)"
        )
        text = "The plumber comes on Thursday at nine; the invoice follows."
        real.embed([text])
        t = time.perf_counter()
        for _ in range(10):
            real.embed([text])
        print(
            f"(d) the real model ({real.name}, {getattr(real, 'engine', '')}) embeds one short "
            f"message's chunk in {(time.perf_counter() - t) / 10 * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
