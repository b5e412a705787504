"""Ingest benchmark, three ways on the same mailbox in one process:

  (a) pdq's ingest (parse, chunk, embed, store, BM25 index);
  (b) the naive LangChain pipeline a tutorial would give: UnstructuredEmailLoader per message,
      RecursiveCharacterTextSplitter(1000, 200), Chroma.from_documents with HuggingFaceEmbeddings
      of the same model;
  (c) the floor: embedding pdq's own chunk texts with the same model, and nothing else.

Prints messages/s of (a) and (b), a/b, (a)'s time over (c)'s, the re-sync time of the unchanged
mailbox and peak RSS.

    .venv/bin/python bench/ingest.py [MBOX] [--messages N] [--no-naive]

Default mailbox: the 1,400-message ``easy-ham-2.mbox`` from ../shared/corpus when present, else
a generated one. (b) needs the bench extra: ``make bench-setup``. Model load times are excluded
from every figure.
"""

from __future__ import annotations

import argparse
import mailbox
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
            m["From"], m["To"], m["Subject"] = (
                f"User {i % 40} <u{i % 40}@x.example>",
                "me@x.example",
                f"Topic {i % 97}",
            )
            m["Message-ID"] = f"<gen{i}@x>"
            m.set_content(
                f"Message {i}. "
                + "Some realistic text about meetings, budgets and plans. " * (5 + i % 30)
            )
            f.write(b"From x@y Mon Mar  2 10:00:00 2026\n" + bytes(m) + b"\n")
    return path


def first_messages(src: Path, n: int, dst: Path) -> Path:
    """The first ``n`` messages of an mbox, as a new mbox (byte-exact)."""
    count = 0
    with src.open("rb") as f, dst.open("wb") as out:
        for line in f:
            if line.startswith(b"From "):
                count += 1
                if count > n:
                    break
            out.write(line)
    return dst


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_pdq(mbox: Path, tmp: Path, embedder) -> dict:
    from ingest.core.settings import load_settings
    from ingest.pipeline import ingest_paths

    settings = load_settings(store=tmp / "pdq-store")
    t = time.perf_counter()
    r = ingest_paths([mbox], settings, embedder=embedder)
    total = time.perf_counter() - t
    t = time.perf_counter()
    r2 = ingest_paths([mbox], settings, embedder=embedder)
    resync = time.perf_counter() - t
    return {
        "seconds": total,
        "messages": r.by_kind["email"]["found"],
        "chunks": r.chunks_embedded,
        "timings": dict(r.timings),
        "resync": resync,
        "resync_chunks": r2.chunks_embedded,
        "store": settings.store,
        "failed": r.failed,
    }


def run_floor(store: Path, embedder) -> dict:
    from ingest.store import Store

    s = Store.open(store, create=False)
    texts = s.collection.get(include=["documents"])["documents"]
    s.close()
    t = time.perf_counter()
    embedder.embed(texts)
    return {"seconds": time.perf_counter() - t, "chunks": len(texts)}


def run_naive(mbox: Path, tmp: Path, model_path: str) -> dict:
    """What a LangChain tutorial does, with the same embedding model (offline-safe settings only)."""
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import UnstructuredEmailLoader
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from ingest.core.privacy import offline_spacy_for_unstructured

    offline_spacy_for_unstructured()  # unstructured would download a spaCy model; online users would not notice
    embeddings = HuggingFaceEmbeddings(model_name=model_path)
    embeddings.embed_query("warm up")  # model load excluded, as for pdq
    eml_dir = tmp / "naive-eml"
    eml_dir.mkdir()
    t = time.perf_counter()
    docs, failed = [], 0
    for i, msg in enumerate(mailbox.mbox(str(mbox))):
        p = eml_dir / f"{i}.eml"
        p.write_bytes(msg.as_bytes())
        try:
            docs += UnstructuredEmailLoader(str(p)).load()
        except Exception:  # a tutorial pipeline just loses these
            failed += 1
    t_load = time.perf_counter() - t
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        docs
    )
    for c in chunks:  # Chroma rejects list-valued metadata (e.g. "sent_to")
        c.metadata = {
            k: (", ".join(map(str, v)) if isinstance(v, list) else v)
            for k, v in c.metadata.items()
            if isinstance(v, (str, int, float, bool, list))
        }
    Chroma.from_documents(
        chunks,
        embeddings,
        persist_directory=str(tmp / "naive-chroma"),
        client_settings=ChromaSettings(
            anonymized_telemetry=False,
            is_persistent=True,
            persist_directory=str(tmp / "naive-chroma"),
        ),
    )
    total = time.perf_counter() - t
    return {
        "seconds": total,
        "messages": i + 1,
        "chunks": len(chunks),
        "load": t_load,
        "failed": failed,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description="pdq ingest vs a naive LangChain pipeline vs the embed-only floor"
    )
    ap.add_argument("mbox", nargs="?", type=Path)
    ap.add_argument(
        "--messages", type=int, default=0, help="use only the first N messages (0: all)"
    )
    ap.add_argument(
        "--generate", type=int, default=1400, help="messages in a generated mailbox (no corpus)"
    )
    ap.add_argument("--no-naive", action="store_true", help="skip (b)")
    args = ap.parse_args()
    from ingest.core.privacy import apply_offline_env
    from ingest.core.settings import load_settings
    from ingest.embedding import SentenceTransformerEmbedder

    apply_offline_env()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        mbox = args.mbox or (
            DEFAULT if DEFAULT.exists() else generated(tmp / "gen.mbox", args.generate)
        )
        if args.messages:
            mbox = first_messages(mbox, args.messages, tmp / "cut.mbox")
        emb = SentenceTransformerEmbedder(load_settings(store=tmp / "unused"))
        t = time.perf_counter()
        emb.embed(["warm up"])
        print(
            f"mailbox: {mbox} ({mbox.stat().st_size / 1e6:.1f} MB); model load {time.perf_counter() - t:.1f}s (excluded)"
        )

        a = run_pdq(mbox, tmp, emb)
        print(
            f"(a) pdq:   {a['messages']} messages, {a['chunks']} chunks in {a['seconds']:.1f}s = "
            f"{a['messages'] / a['seconds']:.2f} messages/s ({a['failed']} failed)"
        )
        print("    stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in a["timings"].items()))
        c = run_floor(a["store"], emb)
        print(f"(c) floor: embed the same {c['chunks']} chunk texts: {c['seconds']:.1f}s")
        print(f"    pdq / floor = {a['seconds'] / c['seconds']:.2f}x")
        print(
            f"re-sync of the unchanged mailbox: {a['resync']:.2f}s ({a['resync_chunks']} chunks embedded)"
        )
        if not args.no_naive:
            b = run_naive(mbox, tmp, emb._path)
            print(
                f"(b) naive: {b['messages']} messages, {b['chunks']} chunks in {b['seconds']:.1f}s = "
                f"{b['messages'] / b['seconds']:.2f} messages/s (loading {b['load']:.1f}s, {b['failed']} lost)"
            )
            print(
                f"    pdq / naive speed = {(a['messages'] / a['seconds']) / (b['messages'] / b['seconds']):.2f}x"
            )
        print(f"peak RSS (whole process): {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
