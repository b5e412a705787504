"""The keyword index's changes since its last full build, kept beside it instead of rebuilding it.

bm25s cannot add or remove a document from a built index, and a full build reads every chunk
back from Chroma: about two minutes for a 50,000-message Maildir, for one new mail. So every
chunk write logs its items in the manifest (``keyword_log``), and bringing the index up to date
re-reads only the items logged since it was built: their chunks now (none for a deleted item)
are tokenised into a small *delta* (``bm25/delta.json``), and the main index's chunks of those
items count as dead. A loaded index masks the dead chunks and scores the delta's with the
formula bm25s uses (Lucene idf, k1 = 1.5, b = 0.75) and the main index's statistics, so one new
mail costs one message's work. Once the delta outgrows a share of the main index it is folded
in by a full build, which also trims the log.
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
    """How many chunks a delta may hold before the next update rebuilds the index in full."""
    return max(FOLD_MIN, int(FOLD_SHARE * n_main))


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
        df = self.main_df(term) + delta_df
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

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
