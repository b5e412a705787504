"""The keyword index's changes since its last full build, kept beside it instead of rebuilding it.

bm25s cannot add or remove a document from a built index, and a full build reads every chunk
back from Chroma: about two minutes for a 50,000-message Maildir, for one new mail. So every
chunk write logs its items in the manifest (``keyword_log``), and bringing the index up to date
re-reads only the items logged since it was built: their chunks now (none for a deleted item)
are tokenised into a small *delta* (``bm25/delta.json``), and the main index's chunks of those
items count as dead. A loaded index masks the dead chunks and scores the delta's with the
formula bm25s uses (Lucene idf, k1 = 1.5, b = 0.75) and the main index's statistics, so one new
mail costs one message's work. Once the delta outgrows a share of the main index it is folded
in (:func:`fold`): a new full index computed from the main index's postings (their term
frequencies recovered from the scores) and the delta's, with fresh statistics, scored as bm25s
scores, without reading the store back; the log is trimmed to it.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DELTA = "delta.json"
K1, B = 1.5, 0.75  # bm25s' defaults, which the main index was built with
FOLD_MIN = 50  # chunks a delta may always hold ...
FOLD_SHARE = 0.05  # ... or this share of the main index, whichever is more


def fold_limit(n_main: int) -> int:
    """How many chunks a delta may hold before the next update folds it into a new index."""
    return max(FOLD_MIN, int(FOLD_SHARE * n_main))


def lucene_idf(n_docs: int | float, df: int | float) -> float:
    """A term's idf as bm25s computes it (its default, Lucene's): ``n_docs`` documents, ``df``
    of them holding the term."""
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))


@dataclass
class Delta:
    """What changed since the main index ``base`` was built, up to log position ``log_seq``."""

    base: str  # the build id of the main index it applies to
    generation: str  # the store's content generation it brings the index to
    log_seq: int
    dead: set[str] = field(default_factory=set)  # items whose main-index chunks no longer count
    ids: list[str] = field(default_factory=list)
    tokens: list[list[str]] = field(default_factory=list)
    meta: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def read(index_dir: Path, base: str) -> Delta | None:
    """The saved delta of the main index ``base`` (None when there is none for it)."""
    try:
        data = json.loads((index_dir / DELTA).read_text(encoding="utf-8"))
        if data.get("base") != base:
            return None
        return Delta(
            base,
            data["generation"],
            int(data["log_seq"]),
            set(data["dead"]),
            list(data["ids"]),
            [t.split() for t in data["tokens"]],
            list(data["meta"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(index_dir: Path, delta: Delta) -> None:
    """Replace the saved delta atomically."""
    tmp = index_dir / f".{DELTA}.tmp{os.getpid()}"
    tmp.write_text(
        json.dumps(
            {
                "base": delta.base,
                "generation": delta.generation,
                "log_seq": delta.log_seq,
                "dead": sorted(delta.dead),
                "ids": delta.ids,
                "tokens": [" ".join(t) for t in delta.tokens],  # terms never hold spaces
                "meta": delta.meta,
            }
        ),
        encoding="utf-8",
    )
    os.replace(tmp, index_dir / DELTA)


def apply(
    delta: Delta,
    store: Any,
    items: set[str],
    analyse: Callable[[list[str], list[dict]], tuple[list[list[str]], list[dict]]],
    generation: str,
    log_seq: int,
) -> Delta:
    """``delta`` with ``items`` as the store holds them now: their earlier delta chunks replaced
    by their current ones (read back from the store; none for a deleted item), their main-index
    chunks dead. ``analyse`` turns chunk texts and metadata into index terms and filter fields."""
    keep = [i for i, m in enumerate(delta.meta) if m.get("item_id") not in items]
    ids = [delta.ids[i] for i in keep]
    tokens = [delta.tokens[i] for i in keep]
    meta = [delta.meta[i] for i in keep]
    wanted = sorted(items)
    for i in range(0, len(wanted), 500):
        rows = store.chunks_where({"item_id": {"$in": wanted[i : i + 500]}})
        rows.sort(key=lambda r: r[0])
        toks, fields = analyse([r[1] for r in rows], [r[2] for r in rows])
        ids += [r[0] for r in rows]
        tokens += toks
        meta += fields
    return Delta(delta.base, generation, log_seq, delta.dead | items, ids, tokens, meta)


class DeltaScorer:
    """BM25 over a delta's chunks with the main index's statistics, so their scores compare with
    the main index's (the same terms, formula and average length; a term's document frequency
    counts both, as a full rebuild would)."""

    def __init__(
        self, tokens: list[list[str]], offset: int, n_main: int, avgdl: float, main_df: Any
    ) -> None:
        import numpy as np

        self.offset = offset  # the delta's first position in the combined index
        self.n = n_main + len(tokens)
        self.main_df = main_df  # term -> its document frequency in the main index
        self.lengths = np.array([len(t) for t in tokens], dtype=np.float32)
        self.avgdl = avgdl or float(self.lengths.mean() if len(tokens) else 1.0) or 1.0
        post: dict[str, tuple[list[int], list[int]]] = {}
        for d, toks in enumerate(tokens):
            for term, tf in Counter(toks).items():
                docs, tfs = post.setdefault(term, ([], []))
                docs.append(d)
                tfs.append(tf)
        self.postings = {
            t: (np.array(d, dtype=np.int64), np.array(f, dtype=np.float32))
            for t, (d, f) in post.items()
        }

    def positions(self, term: str) -> Any:
        """Combined-index positions of the delta chunks holding ``term``."""
        import numpy as np

        hit = self.postings.get(term)
        return hit[0] + self.offset if hit is not None else np.zeros(0, dtype=np.int64)

    def idf(self, term: str, delta_df: int) -> float:
        return lucene_idf(self.n, self.main_df(term) + delta_df)

    def scores(self, terms: Iterable[str]) -> Any:
        """BM25 score of every delta chunk (array) for the query ``terms`` (repeats count)."""
        import numpy as np

        out = np.zeros(len(self.lengths), dtype=np.float32)
        norm = K1 * ((1 - B) + B * self.lengths / self.avgdl)
        for term in terms:
            hit = self.postings.get(term)
            if hit is None:
                continue
            docs, tf = hit
            out[docs] += self.idf(term, len(docs)) * tf / (norm[docs] + tf)
        return out


BLOCK = 1 << 20  # postings per step of a fold (bounds its temporary arrays)


def fold(index: Any, lengths: Any) -> tuple[dict, dict, list[str], list[dict], Any]:
    """A full build of ``index``'s live chunks (a main index with its delta applied) from what
    it holds, without reading the store or tokenising anything: each main posting's term
    frequency is recovered from its score (the build's statistics and ``lengths``, the terms
    per main chunk, known), the delta's are counted, and every score is computed anew with the
    combined statistics, as bm25s scores them. Works in blocks of postings, so its memory is
    the new index plus a few bytes per posting. Returns (bm25s' score arrays, its vocabulary,
    ids, filter fields, terms per chunk); a test compares it with a rebuild from the store."""
    import numpy as np

    n = index.n_main
    sc = index.retriever.scores
    indptr = np.asarray(sc["indptr"], dtype=np.int64)
    n_terms, nnz = len(indptr) - 1, int(indptr[-1])
    df = np.diff(indptr)
    idf = np.array([lucene_idf(n, d) for d in df.tolist()], dtype=np.float32).astype(np.float64)
    lengths = np.asarray(lengths, dtype=np.float64)
    live = np.ones(n, dtype=bool) if index.live is None else np.asarray(index.live[:n])
    new_doc = (np.cumsum(live) - 1).astype(np.int32)  # main chunks keep their order
    n_live = int(live.sum())

    # 1. main postings, still in bm25s' order (by term, then document): term, document, tf
    m_terms = np.empty(nnz, dtype=np.int32)
    m_docs = np.empty(nnz, dtype=np.int32)
    m_tf = np.empty(nnz, dtype=np.float32)
    kept = 0
    for lo in range(0, nnz, BLOCK):
        hi = min(nnz, lo + BLOCK)
        terms = np.searchsorted(indptr, np.arange(lo, hi), side="right") - 1
        docs = np.asarray(sc["indices"][lo:hi], dtype=np.int64)
        ratio = np.asarray(sc["data"][lo:hi], dtype=np.float64) / idf[terms]  # tf / (tf + norm)
        norm = K1 * ((1 - B) + B * lengths[docs] / index.built.avgdl)
        tf = np.rint(ratio * norm / (1 - ratio))
        ok = live[docs]
        k = int(ok.sum())
        m_terms[kept : kept + k] = terms[ok]
        m_docs[kept : kept + k] = new_doc[docs[ok]]
        m_tf[kept : kept + k] = tf[ok]
        kept += k
    m_terms, m_docs, m_tf = m_terms[:kept], m_docs[:kept], m_tf[:kept]

    # 2. the delta's postings (its chunks come after every main one), new terms appended
    vocab = {t: i for t, i in index.retriever.vocab_dict.items() if t and i < n_terms}
    rows: list[tuple[int, int, int]] = []
    delta = index.delta
    tokens = delta.tokens if delta is not None else []
    for j, toks in enumerate(tokens):
        for term, count in Counter(toks).items():
            rows.append((vocab.setdefault(term, len(vocab)), n_live + j, count))
    rows.sort()
    d_terms = np.array([r[0] for r in rows], dtype=np.int64)
    d_docs = np.array([r[1] for r in rows], dtype=np.int32)
    d_tf = np.array([r[2] for r in rows], dtype=np.float32)
    new_lengths = np.concatenate(
        [lengths[:n][live], np.array([len(t) for t in tokens], dtype=np.float64)]
    ).astype(np.int64)
    n_docs = len(new_lengths)

    # 3. the new vocabulary (terms no live chunk holds are dropped, as a rebuild would) and the
    # place of every posting in the new columns: per term, the main postings, then the delta's
    counts_m = np.bincount(m_terms, minlength=len(vocab))
    counts_d = np.bincount(d_terms, minlength=len(vocab))
    counts = counts_m + counts_d
    used = np.flatnonzero(counts)
    by_id = {i: t for t, i in vocab.items()}
    new_vocab = {by_id[int(i)]: k for k, i in enumerate(used)}
    starts = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    first_m = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(counts_m, out=first_m[1:])
    first_d = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(counts_d, out=first_d[1:])
    total = int(starts[-1])

    avgdl = float(new_lengths.mean()) if n_docs else 0.0
    new_df = counts[used]
    new_idf = np.zeros(len(vocab), dtype=np.float32)
    new_idf[used] = [lucene_idf(n_docs, d) for d in new_df.tolist()]
    new_idf64 = new_idf.astype(np.float64)
    norm_of = K1 * ((1 - B) + B * new_lengths.astype(np.float64) / avgdl)

    data = np.empty(total, dtype=np.float32)
    indices = np.empty(total, dtype=np.int32)

    def place(terms: Any, docs: Any, tf: Any, pos: Any) -> None:
        tf = tf.astype(np.float64)
        data[pos] = (new_idf64[terms] * (tf / (norm_of[docs] + tf))).astype(np.float32)
        indices[pos] = docs

    for lo in range(0, kept, BLOCK):
        hi = min(kept, lo + BLOCK)
        t = m_terms[lo:hi].astype(np.int64)
        place(t, m_docs[lo:hi], m_tf[lo:hi], starts[t] + np.arange(lo, hi) - first_m[t])
    if len(rows):
        t = d_terms
        pos = starts[t] + counts_m[t] + np.arange(len(t)) - first_d[t]
        place(t, d_docs, d_tf, pos)
    new_indptr = np.concatenate([starts[used], [total]]).astype(np.int64)

    arrays = {"data": data, "indices": indices, "indptr": new_indptr, "num_docs": n_docs}
    ids = [cid for cid, ok in zip(index.ids[:n], live, strict=True) if ok]
    meta = [m for m, ok in zip(index.meta[:n], live, strict=True) if ok]
    if delta is not None:
        ids, meta = ids + delta.ids, meta + delta.meta
    return arrays, {**new_vocab, "": len(new_vocab)}, ids, meta, new_lengths  # bm25s ends with ""
