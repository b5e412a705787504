"""Query benchmark: retrieval latency p50/p95 for dense, hybrid and hybrid+rerank at 10k and 100k
chunks; time to first token and tokens/s of the packaged model through both engines (transformers,
llama.cpp when installed) and the direct answer's time per question; peak RSS.

    .venv/bin/python bench/query.py [--sizes 10000 100000] [--queries 40] [--no-generate]
    .venv/bin/python bench/query.py --cold STORE...   # only the cold `pdq search` wall time

Cold start: the wall time of a whole ``pdq search`` process (interpreter, imports, store and
index open, the model's session, the search, the output), run ``--cold-runs`` times after one
unmeasured run (so Python's bytecode cache and the disk cache are warm, as on a person's machine
after the first use); min and median are printed.

The big stores are built from generated mail: a pool of distinct generated texts is embedded with
the real model, and each of the N chunks takes one pool text (plus a unique reference, so BM25 sees
N distinct documents) and that text's vector with a little noise (so HNSW sees N distinct points).
Embedding 100k texts for real would take hours on this CPU and would not change search latency.
Queries are the 64 real questions of sample_docs/questions.jsonl, asked through
``Assistant.search`` (query embedding, intent, filters, fusion and grouping included).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NOW = "2026-03-11T09:00:00"


def pool_texts(n: int, seed: int = 7) -> list[str]:
    """Varied mail-like texts from sample_docs' vocabulary."""
    rnd = random.Random(seed)
    words: list[str] = []
    for p in (ROOT / "sample_docs").rglob("*"):
        if p.is_file() and p.suffix in ("", ".md", ".txt", ".ics") and p.stat().st_size < 200_000:
            words += re.findall(r"[A-Za-z][a-z]{2,}", p.read_text(errors="replace"))
    vocab = sorted(set(words))
    names = ["Anna", "Ben", "Tom", "Linda", "Raj", "Priya", "Marco", "Jo", "Sam", "Ella"]
    out = []
    for _ in range(n):
        topic = " ".join(rnd.choices(vocab, k=3))
        body = ". ".join(
            " ".join(rnd.choices(vocab, k=rnd.randint(8, 16))).capitalize()
            for _ in range(rnd.randint(3, 8))
        )
        out.append(f'Email from {rnd.choice(names)} to Sam Carter, "{topic}"\n{body}.')
    return out


def build_store(path: Path, n: int, pool: list[str], vecs, emb) -> None:
    import numpy as np

    from ingest.chunking import chunker_signature
    from ingest.core.settings import load_settings
    from ingest.pipeline import sync_keyword_index
    from ingest.store import Store

    rnd = np.random.default_rng(11)
    settings = load_settings(store=path)
    store = Store.open(
        path, model=emb.name, chunker=chunker_signature(settings, emb.max_seq_length), dim=emb.dim
    )
    kinds = ["email"] * 7 + ["event", "todo", "note"]
    batch = 5000
    for start in range(0, n, batch):
        idx = np.arange(start, min(n, start + batch))
        base = vecs[idx % len(pool)]
        noisy = base + rnd.normal(0, 0.03, base.shape).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        ids = [f"gen{i}#0" for i in idx]
        docs = [f"{pool[i % len(pool)]} (ref {i})" for i in idx]
        metas = [
            {
                "item_id": f"gen{i}",
                "kind": kinds[i % len(kinds)],
                "subject": f"Generated {i}",
                "chunk": 0,
                "from_addr": f"user{i % 200}@example.org",
                "from_name": f"User {i % 200}",
                "thread_id": f"t{i // 3}",
                "date": 1_740_000_000 + int(i) * 600,
            }
            for i in idx
        ]
        store.upsert(ids, noisy.tolist(), docs, metas)
    store.manifest.set_meta(content_generation=f"bench-{n}")
    sync_keyword_index(store)
    store.close()


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def cold_search(store: Path, runs: int, question: str = "When is my dentist appointment?") -> str:
    """Wall time of whole ``pdq search`` processes on ``store``: min and median of ``runs``."""
    import os
    import subprocess

    pdq = str(Path(sys.executable).with_name("pdq"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(HF_HUB_OFFLINE="1", PDQ_TIMEZONE="Europe/London")
    cmd = [pdq, "search", question, "--store", str(store), "-k", "5"]
    subprocess.run(cmd, env=env, capture_output=True, check=True)  # bytecode + disk caches
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    times.sort()
    return (
        f"cold `pdq search` on {store}: min {times[0]:.2f}s, median {pct(times, 50):.2f}s "
        f"({runs} runs)"
    )


def latency(assistant, questions: list[str], **kw) -> tuple[float, float, dict[str, float]]:
    """p50 and p95 of a whole search (planning included) in ms, and the median ms per stage."""
    r = assistant.retriever
    when = assistant.now(NOW)
    for q in questions[:3]:  # warm: indexes loaded, caches filled
        r.search(r.plan(q, when), now=when, k=6, **kw)
    times: list[float] = []
    stages: dict[str, list[float]] = {}
    for q in questions:
        t = time.perf_counter()
        res = r.search(r.plan(q, when), now=when, k=6, **kw)
        times.append((time.perf_counter() - t) * 1000)
        for name, sec in res.timings.items():
            stages.setdefault(name, []).append(sec * 1000)
    return pct(times, 50), pct(times, 95), {k: pct(v, 50) for k, v in stages.items()}


def generator_figures(store: Path, emb) -> list[str]:
    """Time to first token and decode tokens/s of the packaged model through each engine
    (transformers, llama.cpp when installed), and the direct answer's time, on one question."""
    from rag import Assistant
    from rag.generation import llama_cpp_available
    from rag.prompt import build

    a = Assistant(store=store, embedder=emb, now=NOW, llm_model="smollm2")
    q = "When is my dentist appointment?"
    sources = a.search(q, k=6, now=NOW)
    lines = []
    t = time.perf_counter()
    for _ in range(10):
        a.ask(q, backend="extractive", now=NOW)
    lines.append(
        f"direct answer (no model): {(time.perf_counter() - t) / 10 * 1000:.0f} ms per question, retrieval included"
    )
    for engine in ["transformers"] + (["llamacpp"] if llama_cpp_available() else []):
        gen = a.backend(engine)
        t = time.perf_counter()
        gen.count_tokens("load")
        load = time.perf_counter() - t
        prompt = build(
            q,
            sources,
            now=a.now(NOW),
            count_tokens=gen.count_tokens,
            budget=gen.prompt_budget,
            small=gen.small,
        )
        n_prompt = sum(gen.count_tokens(m["content"]) for m in prompt.messages)
        t = time.perf_counter()
        first = None
        text = ""
        for piece in gen.stream(prompt, q):
            if first is None:
                first = time.perf_counter() - t
            text += piece
        total = time.perf_counter() - t
        n_out = gen.count_tokens(text)
        decode = (
            (n_out - 1) / (total - first)
            if first is not None and total > first and n_out > 1
            else 0.0
        )
        lines.append(
            f"{engine}: {gen.name}: load {load:.1f}s, prompt ~{n_prompt} tokens, first token {first or 0:.2f}s, "
            f"{n_out} tokens, decode {decode:.1f} tokens/s"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--pool", type=int, default=1000, help="distinct generated texts to embed")
    ap.add_argument("--queries", type=int, default=64)
    ap.add_argument("--no-generate", action="store_true")
    ap.add_argument(
        "--keep", type=Path, help="build the stores in this folder and reuse them next time"
    )
    ap.add_argument("--cold", type=Path, nargs="+", help="only time cold `pdq search` on these")
    ap.add_argument("--cold-runs", type=int, default=7)
    args = ap.parse_args()
    if args.cold:
        for store in args.cold:
            print(cold_search(store, args.cold_runs))
        return
    import numpy as np

    from ingest.core.privacy import apply_offline_env
    from ingest.core.settings import DEFAULT_EMBEDDING_MODEL, load_settings
    from ingest.embedding import make_embedder, resolve_model_path
    from rag import Assistant

    apply_offline_env()
    questions = [
        json.loads(x)["question"]
        for x in (ROOT / "sample_docs/questions.jsonl").read_text().splitlines()
        if x.strip()
    ]
    questions = questions[: args.queries]
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = args.keep or Path(tmpdir)
        emb = make_embedder(load_settings(store=tmp / "unused"))  # the default engine
        pool = pool_texts(args.pool)
        t = time.perf_counter()
        vecs = np.asarray(emb.embed(pool), dtype=np.float32)
        print(f"embedded a pool of {len(pool)} generated texts in {time.perf_counter() - t:.0f}s")
        print(
            "| chunks | build (s) | dense p50/p95 (ms) | hybrid p50/p95 (ms) | hybrid+rerank p50/p95 (ms) |"
        )
        print("|---|---|---|---|---|")
        stages: list[tuple[int, dict[str, float]]] = []
        for n in args.sizes:
            path = tmp / f"store-{n}"
            t = time.perf_counter()
            if not (path / "manifest.sqlite").exists():
                build_store(path, n, pool, vecs, emb)
            build = time.perf_counter() - t
            a = Assistant(
                store=path,
                embedder=emb,
                llm_backend="extractive",
                timezone="Europe/London",
                reranker_model=resolve_model_path(DEFAULT_EMBEDDING_MODEL),
            )
            d = latency(a, questions, mode="dense", rerank=False)
            h = latency(a, questions, mode="hybrid", rerank=False)
            r = latency(a, questions, mode="hybrid", rerank=True)
            print(
                f"| {n:,} | {build:.0f} | {d[0]:.1f} / {d[1]:.1f} | {h[0]:.1f} / {h[1]:.1f} | {r[0]:.1f} / {r[1]:.1f} |",
                flush=True,
            )
            stages.append((n, h[2]))
            a.close()
            print(cold_search(path, args.cold_runs), flush=True)
        for n, st in stages:
            print(
                f"hybrid at {n:,} chunks, median ms per stage: "
                + ", ".join(f"{k} {v:.1f}" for k, v in st.items())
            )
        if not args.no_generate:
            from ingest.pipeline import ingest_paths

            sample = tmp / "sample-store"
            ingest_paths(
                [ROOT / "sample_docs"],
                load_settings(store=sample, timezone="Europe/London"),
                embedder=emb,
            )
            print("\n".join(generator_figures(sample, emb)))
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
