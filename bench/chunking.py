"""Chunking sweep: chunk size and overlap against retrieval recall and the tokens embedded.

For each (chunk_tokens, chunk_overlap) setting, both question sets' stores are built afresh with
the real embedding model (sample_docs; the 48 Enron mails + 500 SpamAssassin distractors from
../shared/corpus when present) and their questions asked (retrieval only, hybrid/dense/BM25).
Printed per setting: chunks, tokens embedded per item, hybrid recall@1/@5 and MRR of each set.

    .venv/bin/python bench/chunking.py [--settings 200/32 256/32 128/32 200/0 256/0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared/corpus"
SETS = [
    ("sample", [ROOT / "sample_docs"], ROOT / "sample_docs/questions.jsonl",
     "Europe/London", "2026-03-11T09:00:00"),
    ("enron", [CORPUS / "mail/enron-48/Maildir", CORPUS / "mail/spamassassin/Maildir"],
     CORPUS / "enron_qa_semantic_systems/dataset_enron_annotated.json",
     "America/Chicago", "2002-01-01T09:00:00"),
]  # fmt: skip


def tokens_embedded(store: Path, count) -> tuple[int, int, int]:
    """(chunks, tokens in them, items) of a store."""
    from ingest.store import Store

    s = Store.open(store, create=False)
    try:
        _ids, docs, metas = s.all_chunks()
        return len(docs), sum(count(docs)), len({m.get("item_id") for m in metas})
    finally:
        s.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--settings", nargs="+", default=["200/32", "256/32", "128/32", "200/0", "256/0"]
    )
    args = ap.parse_args()

    from ingest.core.privacy import apply_offline_env
    from ingest.core.settings import load_settings
    from ingest.embedding import make_embedder
    from ingest.pipeline import ingest_paths
    from rag import Assistant
    from rag.evaluation import evaluate, load_questions

    apply_offline_env()
    print(
        "| chunk tokens / overlap | set | chunks | tokens per item | hybrid R@1 | hybrid R@5 | "
        "hybrid MRR | dense R@5 | ingest (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    emb = None
    for setting in args.settings:
        size, overlap = (int(x) for x in setting.split("/"))
        for name, paths, questions, tz, now in SETS:
            if not all(p.exists() for p in [*paths, questions]):
                continue
            with tempfile.TemporaryDirectory() as tmp:
                s = load_settings(
                    store=Path(tmp) / "store", timezone=tz, chunk_tokens=size, chunk_overlap=overlap
                )
                emb = emb or make_embedder(s)
                t = time.perf_counter()
                ingest_paths(paths, s, embedder=emb)
                took = time.perf_counter() - t
                tok = emb.tokenizer
                n_chunks, n_tokens, n_items = tokens_embedded(
                    s.store,
                    lambda docs, tok=tok: [
                        len(x) for x in tok(docs, add_special_tokens=False)["input_ids"]
                    ],
                )
                a = Assistant(settings=s, embedder=emb)
                r = evaluate(a, load_questions(questions), now=now, answers=False)
                a.close()
                h, d = r["retrieval"]["hybrid"]["all"], r["retrieval"]["dense"]["all"]
                print(
                    f"| {size} / {overlap} | {name} | {n_chunks:,} | {n_tokens / n_items:.0f} | "
                    f"{h['recall@1']:.3f} | {h['recall@5']:.3f} | {h['mrr']:.3f} | "
                    f"{d['recall@5']:.3f} | {took:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
