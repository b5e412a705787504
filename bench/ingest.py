"""Benchmark pdq's ingest on a real mailbox: messages/s, chunks/s, re-sync time, peak RSS.

    .venv/bin/python bench/ingest.py [MBOX] [--limit N]

Default mailbox: the 1,400-message ``easy-ham-2.mbox`` from ../shared/corpus when present, else
a generated one. Uses the real packaged embedding model on this machine's CPU (or GPU).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT = ROOT.parent / "shared/corpus/mail/spamassassin/mbox/easy-ham-2.mbox"


def generated(path: Path, n: int) -> Path:
    with path.open("wb") as f:
        for i in range(n):
            m = EmailMessage()
            m["From"], m["To"], m["Subject"] = f"User {i % 40} <u{i % 40}@x.example>", "me@x.example", f"Topic {i % 97}"
            m["Message-ID"] = f"<gen{i}@x>"
            m.set_content(f"Message {i}. " + "Some realistic text about meetings, budgets and plans. " * (5 + i % 30))
            f.write(b"From x@y Mon Mar  2 10:00:00 2026\n" + bytes(m) + b"\n")
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mbox", nargs="?", type=Path)
    ap.add_argument("--limit", type=int, default=1400, help="messages for a generated mailbox")
    args = ap.parse_args()
    from ingest.embedding import SentenceTransformerEmbedder
    from ingest.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        mbox = args.mbox or (DEFAULT if DEFAULT.exists() else generated(Path(tmp) / "gen.mbox", args.limit))
        settings = load_settings(store=Path(tmp) / "store")
        from ingest.pipeline import ingest_paths

        emb = SentenceTransformerEmbedder(settings)
        t = time.perf_counter()
        _ = emb.model
        load = time.perf_counter() - t
        t = time.perf_counter()
        r = ingest_paths([mbox], settings, embedder=emb)
        total = time.perf_counter() - t
        msgs = r.by_kind["email"]["found"]
        t = time.perf_counter()
        r2 = ingest_paths([mbox], settings, embedder=emb)
        resync = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"mailbox: {mbox} ({mbox.stat().st_size / 1e6:.1f} MB)")
        print(f"model load: {load:.1f}s (not counted below)")
        print(f"ingest: {msgs} messages, {r.totals['new']} items, {r.chunks_embedded} chunks in {total:.1f}s")
        print(f"  messages/s: {msgs / total:.1f}   chunks/s: {r.chunks_embedded / total:.1f}")
        print("  stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in r.timings.items()))
        print(f"re-sync unchanged: {resync:.2f}s, {r2.chunks_embedded} chunks embedded")
        print(f"peak RSS: {rss:.0f} MB")


if __name__ == "__main__":
    main()
