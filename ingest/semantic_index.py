"""Phase 2 of an ingest: give the chunks phase 1 stored (text, metadata, placeholder vectors)
their real embeddings, newest items first, one committed round at a time.

People ask about recent mail most, so the newest items become semantically searchable first;
until an item is embedded it is found by keyword and metadata (listings, the day's glance, BM25),
and dense search skips its placeholder. Each round reads the chunks' stored text, embeds each
distinct text once (quoted copies and list mail repeat), replaces the vectors and only then marks
the items embedded in the manifest: a run killed in between embeds that round again next time,
and replacing a vector twice leaves one vector, so nothing is duplicated or lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ingest.embedding import Embedder
from ingest.report import IngestReport
from ingest.store import Store

EMBED_ROUND = 256  # chunks per embed + write round


def embed_waiting(
    store: Store,
    embedder: Embedder,
    report: IngestReport,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Embed every item still waiting for its vectors; ``progress(embedded, total)`` (items)
    after each round."""
    m = store.manifest
    while True:
        batch = m.to_embed(EMBED_ROUND)
        if not batch:
            break
        ids = [f"{iid}#{k}" for iid, n in batch for k in range(n)]
        texts = store.texts(ids) if ids else {}
        present = [cid for cid in ids if cid in texts]
        distinct = list(dict.fromkeys(texts[c] for c in present))
        if distinct:
            t0 = time.perf_counter()
            vectors = embedder.embed(distinct)
            report.timings["embed"] += time.perf_counter() - t0
            by_text = dict(zip(distinct, vectors, strict=True))
            t0 = time.perf_counter()
            store.set_vectors(present, [by_text[texts[c]] for c in present])
            report.timings["write"] += time.perf_counter() - t0
        with m.transaction():
            m.mark_embedded(iid for iid, _ in batch)
        report.chunks_embedded += len(present)
        report.chunks_same_text += len(present) - len(distinct)
        if progress:
            progress(*m.embedding_progress())
    report.semantic = m.embedding_progress()
