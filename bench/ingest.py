"""Ingest benchmark, side by side in one process on the same mailbox:

  (a) pdq's two-phase ingest, once per embedding engine (onnx, the default, and torch): the time
      until a keyword question about one message is answered correctly (asked every half second
      by a reader while the ingest runs), until everything is keyword-searchable (phase 1 done),
      and until everything is embedded (phase 2 done), with phase 2's chunks/s;
  (b) the naive LangChain pipeline a tutorial would give: UnstructuredEmailLoader per message,
      RecursiveCharacterTextSplitter(1000, 200), Chroma.from_documents with HuggingFaceEmbeddings
      of the same model. It can answer nothing until its full run ends;
  (c) the floor: pdq's own chunk texts embedded by each engine, nothing else (chunks/s).

    .venv/bin/python bench/ingest.py [MBOX] [--messages N] [--engines onnx,torch] [--no-naive]

Default mailbox: the 1,400-message ``easy-ham-2.mbox`` from ../shared/corpus when present, else
a generated one. (b) needs the bench extra: ``make bench-setup``. Model load times are excluded
from every figure. Peak RSS of a plain ``pdq ingest`` is measured with ``/usr/bin/time -v``
(docs/benchmarks.md), not here: this process holds every engine and the naive pipeline at once.
"""

from __future__ import annotations

import argparse
import mailbox
import resource
import sys
import tempfile
import threading
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


def probe_question(mbox: Path) -> tuple[str, str]:
    """A keyword question about one message of the mailbox (its subject's words), and that
    subject: answered correctly when a top-3 source has it."""
    import re

    for msg in mailbox.mbox(str(mbox)):
        subject = str(msg.get("Subject") or "")
        words = [w for w in re.findall(r"[A-Za-z]{4,}", subject)]
        if len(words) >= 3:
            return " ".join(words), subject
    raise SystemExit("no message with a usable subject")


def run_pdq(mbox: Path, tmp: Path, embedder, engine: str) -> dict:
    from ingest.core.settings import load_settings
    from ingest.pipeline import ingest_paths
    from rag import Assistant

    settings = load_settings(store=tmp / f"pdq-store-{engine}", embedding_engine=engine)
    question, subject = probe_question(mbox)
    result: dict = {}
    answered: list[float] = []

    def ingest() -> None:
        result["report"] = ingest_paths([mbox], settings, embedder=embedder)

    t = time.perf_counter()
    worker = threading.Thread(target=ingest)
    worker.start()
    a = None  # one reader for the whole run, as the page keeps one
    while worker.is_alive() and not answered:  # a person asking while the ingest runs
        time.sleep(0.5)
        try:
            if a is None:
                if not (settings.store / "manifest.sqlite").exists():
                    continue
                a = Assistant(settings=settings, embedder=embedder)
            hits = a.search(question, k=3)
        except Exception:  # no collection yet: open afresh next time
            a = None
            continue
        if any(subject.strip() in h.title for h in hits):
            answered.append(time.perf_counter() - t)
    worker.join()
    total = time.perf_counter() - t
    r = result["report"]
    t = time.perf_counter()
    r2 = ingest_paths([mbox], settings, embedder=embedder)
    resync = time.perf_counter() - t
    embed_s = r.timings["embed"]
    return {
        "engine": engine,
        "seconds": total,
        "first_answer": answered[0] if answered else None,
        "keyword_ready": r.keyword_ready,
        "messages": r.by_kind["email"]["found"],
        "chunks": r.chunks_embedded,
        "same_text": r.chunks_same_text,
        "phase2": total - r.keyword_ready,
        "embed_chunks_per_s": r.chunks_embedded / max(embed_s, 1e-9),
        "timings": dict(r.timings),
        "resync": resync,
        "resync_chunks": r2.chunks_embedded,
        "store": settings.store,
        "failed": r.failed,
        "question": question,
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
    ap.add_argument("--engines", default="onnx,torch", help="embedding engines for (a) and (c)")
    args = ap.parse_args()
    from ingest.core.privacy import apply_offline_env
    from ingest.core.settings import load_settings
    from ingest.embedding import make_embedder

    apply_offline_env()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        mbox = args.mbox or (
            DEFAULT if DEFAULT.exists() else generated(tmp / "gen.mbox", args.generate)
        )
        if args.messages:
            mbox = first_messages(mbox, args.messages, tmp / "cut.mbox")
        print(f"mailbox: {mbox} ({mbox.stat().st_size / 1e6:.1f} MB)")
        runs = []
        for engine in [e for e in args.engines.split(",") if e]:
            emb = make_embedder(load_settings(store=tmp / "unused", embedding_engine=engine))
            t = time.perf_counter()
            emb.embed(["warm up"])
            print(f"\n[{engine}] model load {time.perf_counter() - t:.1f}s (excluded)")
            a = run_pdq(mbox, tmp, emb, engine)
            runs.append(a)
            first = f"{a['first_answer']:.1f}s" if a["first_answer"] is not None else "never"
            print(
                f"(a) pdq/{engine}: {a['messages']} messages, {a['chunks']} chunks "
                f"({a['same_text']} of the same text as another, embedded once)"
            )
            print(f"    keyword question {a['question']!r} answered after {first}")
            print(f"    everything keyword-searchable after {a['keyword_ready']:.1f}s (phase 1)")
            print(
                f"    everything embedded after {a['seconds']:.1f}s (phase 2: {a['phase2']:.1f}s, "
                f"{a['embed_chunks_per_s']:.2f} chunks/s in the model)"
            )
            print("    stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in a["timings"].items()))
            print(
                f"    re-sync unchanged: {a['resync']:.2f}s ({a['resync_chunks']} chunks embedded)"
            )
            c = run_floor(a["store"], emb)
            print(
                f"(c) floor/{engine}: {c['chunks']} chunk texts in {c['seconds']:.1f}s = "
                f"{c['chunks'] / c['seconds']:.2f} chunks/s"
            )
            a["floor_cps"] = c["chunks"] / c["seconds"]
        by = {r["engine"]: r for r in runs}
        if "onnx" in by and "torch" in by:
            o, t_ = by["onnx"], by["torch"]
            print(
                f"\nonnx vs torch, same chunks: full semantic indexing {t_['seconds'] / o['seconds']:.2f}x "
                f"faster end to end, {o['floor_cps'] / t_['floor_cps']:.2f}x per chunk (floor)"
            )
        if not args.no_naive:
            b = run_naive(mbox, tmp, _model_path())
            print(
                f"(b) naive: {b['messages']} messages, {b['chunks']} chunks in {b['seconds']:.1f}s "
                f"(loading {b['load']:.1f}s, {b['failed']} lost): it answers nothing before that"
            )
            for r in runs:
                if r["first_answer"]:
                    print(
                        f"    pdq/{r['engine']} answered a keyword question "
                        f"{b['seconds'] / r['first_answer']:.0f}x sooner than the naive pipeline "
                        f"could answer anything; fully embedded {b['seconds'] / r['seconds']:.2f}x sooner"
                    )
        print(f"peak RSS (whole process): {rss_mb():.0f} MB")


def _model_path() -> str:
    from ingest.core.settings import DEFAULT_EMBEDDING_MODEL
    from ingest.embedding import resolve_model_path

    return resolve_model_path(DEFAULT_EMBEDDING_MODEL)


if __name__ == "__main__":
    main()
