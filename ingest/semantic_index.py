"""Phase 2 of an ingest: embed the chunks phase 1 staged (text and metadata, no vectors) and move
them into the store's main collection, newest items first, one committed round at a time.

People ask about recent mail most, so the newest items become semantically searchable first;
until an item is embedded it is found by keyword and metadata (listings, the day's glance, BM25),
not by dense search. Each round reads the staged chunks, embeds each distinct text once (quoted
copies and list mail repeat), writes them to the main collection, removes them from staging and
only then marks the items embedded in the manifest: a run killed in between embeds that round
again next time, and writing a chunk twice leaves one chunk, so nothing is duplicated or lost.
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
        staged = store.staged(ids)
        present = [cid for cid in ids if cid in staged]
        distinct = list(dict.fromkeys(staged[c][0] for c in present))
        if distinct:
            t0 = time.perf_counter()
            vectors = embedder.embed(distinct)
            report.timings["embed"] += time.perf_counter() - t0
            if m.get_meta("embedding_dim") in (None, "0"):
                m.set_meta(embedding_dim=len(vectors[0]))
            by_text = dict(zip(distinct, vectors, strict=True))
            t0 = time.perf_counter()
            store.promote(
                present,
                [by_text[staged[c][0]] for c in present],
                [staged[c][0] for c in present],
                [staged[c][1] for c in present],
            )
            report.timings["write"] += time.perf_counter() - t0
        with m.transaction():
            m.mark_embedded(iid for iid, _ in batch)
        report.chunks_embedded += len(present)
        report.chunks_same_text += len(present) - len(distinct)
        if progress:
            progress(*m.embedding_progress())
    report.semantic = m.embedding_progress()
