"""The BM25 keyword index over the same chunks as the Chroma collection (for hybrid search).

Built with ``bm25s`` (sparse matrices, fast) from the chunk texts in Chroma (embedded or still
staged by an ingest's first phase) (a mail's chunks also
carry its whole To/Cc list here, which the embedded text shortens), English stopwords
and a Snowball stemmer, and saved in ``<store>/bm25/`` with the chunk ids and the few metadata
fields that filters use (kind, date, sender, thread...), so keyword hits can be filtered exactly
like vector hits without asking Chroma.

Kept in sync by ingest: every chunk write logs its items and bumps the manifest's
``content_generation``. At the end of a run that changed anything, the items logged since the
index was built are re-read into a small delta beside it (ingest/store/keyword_delta.py: one new
mail costs one message's work, whatever the store's size); a delta grown past a share of the
index is folded into a new full index computed from the saved one (no chunk read back, nothing
tokenised again); a missing index or another format means a full rebuild from the store. A
reader that finds the saved index stale catches up the same way in memory (or loads or rebuilds
it), so search never uses an index that disagrees with the store.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

INDEX_DIR = "bm25"
FILTER_FIELDS = (
    "item_id",
    "kind",
    "date",
    "thread_id",
    "from_name",
    "from_addr",
    "folder",
    "done",
    "path",
    "title",
    "uid",
    "mentions",
    "to",
    "cc",
    "folders",
)
PAGE = 5000
FORMAT = 6  # what keyword_text()/joined_terms() index, FILTER_FIELDS and the saved state keep;
# an index of another format is rebuilt


_OPTIONAL = ("numba", "scipy")  # bm25s accelerators pdq does not use (numpy backends)


def _bm25s() -> Any:
    """``bm25s`` imported without its optional numba and scipy backends when nothing has loaded
    them yet: they add half a second to every terminal search's start and pdq uses the numpy
    backends (same scores; ``BM25(backend="numpy")``, ``csc_backend="numpy"`` by default)."""
    import sys

    if "bm25s" not in sys.modules:
        blocked = [m for m in _OPTIONAL if m not in sys.modules]
        for m in blocked:
            sys.modules[m] = None  # type: ignore[assignment]  # `import m` now fails
        try:
            import bm25s
        finally:
            for m in blocked:
                del sys.modules[m]
    import bm25s

    return bm25s


def _stemmer() -> Any:
    try:
        import Stemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # PyStemmer is a dependency; stay usable without it
        return None


_JOINED = re.compile(r"\b(\d{1,2}):(\d{1,2})\b")  # "1:1", "16:00": one term besides its digits


def joined_terms(text: str) -> str:
    """``text`` plus one word per "1:1" / "16:00" ("1to1", "16to00"): BM25 keeps only words of
    two or more characters, so "my 1:1 with Ben" would otherwise lose its most telling term."""
    extra = " ".join(f"{a}to{b}" for a, b in _JOINED.findall(text))
    return f"{text} {extra}" if extra else text


_SPLIT = re.compile(r"(?u)\b\w\w+\b")  # bm25s' (and scikit-learn's) token pattern


@functools.cache
def _stopwords() -> frozenset[str]:
    _bm25s()  # imported first: keeps numba/scipy out, as everywhere else
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(texts: list[str], stemmer: Any) -> list[list[str]]:
    """Each text as the index spells its terms: exactly ``bm25s.tokenize(texts, stopwords="en",
    stemmer=stemmer, return_ids=False)`` (lower case, its token pattern, its English stopwords,
    the stemmer), without its per-call progress-bar objects, which cost more than the work for
    the few short texts a question needs (a test compares both on every sample text)."""
    stop = _stopwords()
    out = []
    for text in texts:
        words = [w for w in _SPLIT.findall(joined_terms(text).lower()) if w not in stop]
        out.append(stemmer.stemWords(words) if stemmer is not None and words else words)
    return out


@dataclass
class Built:
    """What a full build records besides the index: which build it is, where the store's
    keyword log stood when its chunks were read, and the statistics a delta is scored with."""

    build: str = ""  # a fresh id per full build (a delta names the build it applies to)
    log_id: str = ""  # the manifest log it was built against ("": none, no catching up)
    log_seq: int = 0  # the log position its chunks were read at
    avgdl: float = 0.0  # average indexed terms per chunk

    def as_dict(self) -> dict:
        return {
            "build": self.build,
            "log_id": self.log_id,
            "log_seq": self.log_seq,
            "avgdl": self.avgdl,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Built:
        return cls(
            str(d.get("build") or ""),
            str(d.get("log_id") or ""),
            int(d.get("log_seq") or 0),
            float(d.get("avgdl") or 0.0),
        )


@dataclass
class KeywordIndex:
    """A loaded BM25 index: ``ids[i]`` and ``meta[i]`` describe document ``i``.

    The first ``n_main`` documents are the full build's (``retriever``); after them come a
    delta's (ingest/store/keyword_delta.py), and ``live`` is False for main documents a delta
    replaced or deleted. Every filter, search and posting list sees live documents only."""

    retriever: Any
    ids: list[str]
    meta: list[dict]
    generation: str
    stemmer: Any
    built: Built = field(default_factory=Built)
    delta: Any = None  # the keyword_delta.Delta applied, or None
    log_seq: int = -1  # the log position it is current to (-1: the build's)
    n_main: int = -1  # -1: every document is the build's
    live: Any = None  # bool array over the documents, None when all are live
    lengths: Any = None  # terms per document of a build, when at hand (saved for a later fold)
    _scorer: Any = field(default=None, init=False, repr=False)
    _pos: dict[str, int] = field(init=False, repr=False)
    _columns: dict[str, Any] | None = field(default=None, init=False, repr=False)
    _threads: dict[str, list[int]] | None = field(default=None, init=False, repr=False)
    _mentions: dict[int, list[int]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.n_main < 0:
            self.n_main = len(self.ids)
        if self.log_seq < 0:
            self.log_seq = self.built.log_seq
        live = self.live
        self._pos = {cid: i for i, cid in enumerate(self.ids) if live is None or live[i]}

    @classmethod
    def with_delta(cls, main: KeywordIndex, delta: Any) -> KeywordIndex:
        """``main``'s full build with ``delta`` applied (ingest/store/keyword_delta.py)."""
        import numpy as np

        n = main.n_main
        ids, meta = main.ids[:n] + delta.ids, main.meta[:n] + delta.meta
        live = np.ones(len(ids), dtype=bool)
        if delta.dead:
            dead = delta.dead
            live[:n] = [m.get("item_id") not in dead for m in main.meta[:n]]
        return cls(
            main.retriever,
            ids,
            meta,
            delta.generation,
            main.stemmer,
            main.built,
            delta,
            delta.log_seq,
            n,
            None if live.all() else live,
        )

    def applied_delta(self) -> Any:
        """The keyword_delta.Delta this index applies (an empty one at its build when none)."""
        from ingest.store.keyword_delta import Delta

        if self.delta is not None:  # (a delta of deletions only holds no chunks: test for None)
            return self.delta
        return Delta(self.built.build, self.generation, self.log_seq)

    @property
    def scorer(self) -> Any:
        """Scores the delta's documents (built on first use)."""
        if self._scorer is None and self.delta is not None:
            from ingest.store.keyword_delta import DeltaScorer

            self._scorer = DeltaScorer(
                self.delta.tokens, self.n_main, self.n_main, self.built.avgdl, self._main_df
            )
        return self._scorer

    def _main_df(self, term: str) -> int:
        t = self.retriever.vocab_dict.get(term) if self.n_main else None
        if t is None:
            return 0
        indptr = self.retriever.scores["indptr"]
        return int(indptr[t + 1] - indptr[t])

    @property
    def n_docs(self) -> int:
        """Live documents."""
        return len(self.ids) if self.live is None else int(self.live.sum())

    def postings(self, term: str) -> Any:
        """Positions of the live documents holding ``term`` (array)."""
        import numpy as np

        out = np.zeros(0, dtype=np.int64)
        t = self.retriever.vocab_dict.get(term) if self.n_main else None
        if t is not None:
            sc = self.retriever.scores
            out = np.asarray(sc["indices"][sc["indptr"][t] : sc["indptr"][t + 1]])
            if self.live is not None:
                out = out[self.live[out]]
        if self.delta is not None:
            out = np.concatenate([out.astype(np.int64), self.scorer.positions(term)])
        return out

    def df(self, term: str) -> int:
        """How many live documents hold ``term``."""
        if self.delta is None and self.live is None:
            return self._main_df(term)
        return len(self.postings(term))

    @property
    def columns(self) -> dict[str, Any]:
        """The filterable metadata as numpy columns (built once), so a filter over 100k chunks
        is a few vector operations instead of a Python loop."""
        if self._columns is None:
            import numpy as np

            m = self.meta
            self._columns = {
                "date": np.array(
                    [x.get("date", np.nan) if x.get("date") is not None else np.nan for x in m],
                    dtype=np.float64,
                ),
                "kind": np.array([x.get("kind", "") for x in m], dtype=object),
                "from_addr": np.array([x.get("from_addr", "") for x in m], dtype=object),
                "not_done": np.array([x.get("done") is False for x in m], dtype=bool),
                # lowercased, for substring filters (a name or an address)
                "recipients": np.array(
                    [f"{x.get('to') or ''}; {x.get('cc') or ''}".lower() for x in m], dtype=object
                ),
                "folders": np.array(
                    [f"; {x.get('folder') or ''}; {x.get('folders') or ''}; ".lower() for x in m],
                    dtype=object,
                ),
                "thread_id": np.array([x.get("thread_id", "") for x in m], dtype=object),
                "title": np.array([str(x.get("title") or "").lower() for x in m], dtype=object),
            }
        return self._columns

    def mask(
        self,
        start: float | None = None,
        end: float | None = None,
        kinds: tuple[str, ...] = (),
        senders: tuple[str, ...] = (),
        open_todos: bool = False,
        keep_undated: bool = False,
        recipients: tuple[str, ...] = (),
        folders: tuple[str, ...] = (),
        thread_id: str = "",
        subject: str = "",
    ) -> Any:
        """Boolean array: the chunks inside ``[start, end)`` (epoch seconds), of ``kinds``, from
        ``senders``, open to-dos, to/cc any of ``recipients`` (lowercase names or addresses), in
        any of ``folders``, of one thread, with ``subject`` in the title — the same rules as
        :meth:`rag.filters.Filters.match`. With ``keep_undated``, chunks without a date (notes,
        documents) pass the date range."""
        import numpy as np

        c = self.columns
        out = np.ones(len(self.ids), dtype=bool) if self.live is None else self.live.copy()
        if start is not None or end is not None:
            d = c["date"]
            inside = ~np.isnan(d)
            if start is not None:
                inside &= d >= start
            if end is not None:
                inside &= d < end
            if (
                keep_undated
            ):  # a question's time phrase: undated items and what mentions the range pass
                inside |= np.isnan(d) | self.mentioning(start, end)
            out &= inside
        if kinds:
            out &= np.isin(c["kind"], list(kinds))
        if senders:
            out &= np.isin(c["from_addr"], list(senders))
        if open_todos:
            out &= c["not_done"]
        if recipients:
            out &= np.array([any(r in x for r in recipients) for x in c["recipients"]], dtype=bool)
        if folders:
            wanted = [f"; {f.lower()}; " for f in folders]
            out &= np.array([any(w in x for w in wanted) for x in c["folders"]], dtype=bool)
        if thread_id:
            out &= c["thread_id"] == thread_id
        if subject:
            s = subject.lower()
            out &= np.array([s in x for x in c["title"]], dtype=bool)
        return out

    def mentioning(self, start: float | None, end: float | None) -> Any:
        """Boolean array: the chunks whose text mentions a day in ``[start, end)`` (epoch seconds;
        ingest/sources/mentions.py), from a day → chunks map built once."""
        from datetime import date, timedelta

        import numpy as np

        if self._mentions is None:
            by_day: dict[int, list[int]] = {}
            for i, x in enumerate(self.meta):
                for d in str(x.get("mentions") or "").split():
                    by_day.setdefault(date.fromisoformat(d).toordinal(), []).append(i)
            self._mentions = by_day
        out = np.zeros(len(self.ids), dtype=bool)
        if not self._mentions:
            return out
        lo = (
            min(self._mentions)
            if start is None
            else (date(1970, 1, 1) + timedelta(seconds=start)).toordinal()
        )
        hi = (
            max(self._mentions) + 1
            if end is None
            else (date(1970, 1, 1) + timedelta(seconds=end - 1)).toordinal() + 1
        )
        for day in range(lo, min(hi, lo + 400)):  # a year is plenty for "mentions"
            hits = self._mentions.get(day)
            if hits:
                out[hits] = True
        return out

    def thread(self, thread_id: str) -> list[int]:
        """Positions of every chunk of a mail thread (index built once)."""
        if self._threads is None:
            threads: dict[str, list[int]] = {}
            live = self.live
            for i, x in enumerate(self.meta):
                t = x.get("thread_id")
                if t and (live is None or live[i]):
                    threads.setdefault(t, []).append(i)
            self._threads = threads
        return self._threads.get(thread_id, [])

    def __len__(self) -> int:
        """Documents, dead ones included: the length of every mask over this index."""
        return len(self.ids)

    def live_meta(self) -> list[dict]:
        """The filter fields of every live document."""
        if self.live is None:
            return self.meta
        return [m for m, ok in zip(self.meta, self.live, strict=True) if ok]

    def tokens(self, text: str) -> list[str]:
        """``text`` as this index spells its terms (stopwords out, stemmed)."""
        return list(tokenize([text], self.stemmer)[0])

    def search(self, query: str, k: int, mask: Any = None) -> list[tuple[str, float]]:
        """Top ``k`` chunk ids with BM25 scores; ``mask`` (bool array) limits the documents."""
        import numpy as np

        if not self.ids:
            return []
        terms = tokenize([query], self.stemmer)[0]
        vocab = self.retriever.vocab_dict if self.n_main else {}
        tokens = [[t for t in terms if t in vocab]]
        if self.delta is not None or self.live is not None:
            return self._search_with_delta(tokens[0], terms, k, mask)
        if not tokens[0]:
            return []
        if mask is not None and not mask.any():
            return []
        k = min(k, len(self.ids))
        weight = None if mask is None else mask.astype(np.float32)
        docs, scores = self.retriever.retrieve(
            tokens, k=k, show_progress=False, weight_mask=weight, n_threads=1
        )
        return [
            (self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0
        ]

    def _search_with_delta(
        self, main_terms: list[str], terms: list[str], k: int, mask: Any
    ) -> list[tuple[str, float]]:
        """:meth:`search` over the build's live documents and the delta's, one ranking."""
        import numpy as np

        allowed = self.live if mask is None else (mask if self.live is None else mask & self.live)
        if allowed is not None and not allowed.any():
            return []
        scores = np.zeros(len(self.ids), dtype=np.float32)
        n = self.n_main
        if main_terms and n:
            scores[:n] = self.retriever.get_scores(main_terms)
        if self.delta is not None and len(self.delta):
            scores[n:] = self.scorer.scores(terms)
        if allowed is not None:
            scores[~allowed] = 0
        k = min(k, len(self.ids))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[int(d)], float(scores[d])) for d in top if scores[d] > 0]

    def meta_of(self, chunk_id: str) -> dict:
        i = self._pos.get(chunk_id)
        return self.meta[i] if i is not None else {}


_ADDRESS = re.compile(r"([\w.+-]+)@[\w-]+(?:\.[\w-]+)+")


def keyword_text(doc: str, meta: dict | None) -> str:
    """What BM25 indexes for a chunk: its text, a mail's whole To/Cc list (the chunk's context
    line names only the first three recipients, and "what is the address of <someone in Cc>"
    must still find it), and the words inside every address ("david_cobrain@..." → david cobrain)."""
    extra = " ".join(str(meta.get(k) or "") for k in ("to", "cc")).strip() if meta else ""
    text = f"{doc}\n{extra}" if extra else doc
    words = {
        w for local in _ADDRESS.findall(text) for w in re.split(r"[._+-]+", local) if len(w) > 1
    }
    return f"{text}\n{' '.join(sorted(words))}" if words else text


def filter_fields(meta: dict) -> dict:
    """The metadata a chunk keeps in the index (what filters and grouping read)."""
    return {k: meta.get(k) for k in FILTER_FIELDS if meta.get(k) is not None}


def _read_all(store: Any) -> tuple[list[str], list[str], list[dict]]:
    """Every chunk of the store, embedded or not yet: ids, indexed texts, filter fields."""
    ids, docs, metas = store.all_chunks(PAGE)
    return (
        ids,
        [keyword_text(d, m) for d, m in zip(docs, metas, strict=True)],
        [filter_fields(m) for m in metas],
    )


def analyser(stemmer: Any) -> Any:
    """Chunk texts and metadata → (their index terms, their filter fields), as :func:`build`
    indexes them (for a delta)."""

    def analyse(docs: list[str], metas: list[dict]) -> tuple[list[list[str]], list[dict]]:
        texts = [keyword_text(d, m) for d, m in zip(docs, metas, strict=True)]
        return tokenize(texts, stemmer), [filter_fields(m) for m in metas]

    return analyse


def _log_position(store: Any) -> tuple[str, int]:
    """(the store's keyword log id, its head) before a build reads the chunks; ("", 0) when the
    store keeps no log a later catch-up could trust (a Chroma server)."""
    log = getattr(store, "keyword_log", None)
    if log is None:
        return "", 0
    lid = log.log_id()
    return (lid, log.log_head()) if lid else ("", 0)


def build(store: Any, generation: str) -> KeywordIndex:
    """Index every chunk of a :class:`~ingest.store.Store`."""
    bm25s = _bm25s()

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on itself
    import uuid

    t0 = time.perf_counter()
    log_id, log_seq = _log_position(store)  # before reading: later changes are caught up
    ids, docs, metas = _read_all(store) if store.collection is not None else ([], [], [])
    stemmer = _stemmer()
    retriever = bm25s.BM25(backend="numpy")  # same scores in every process, numba or not
    avgdl = 0.0
    if docs:
        tokens = bm25s.tokenize(
            [joined_terms(d) for d in docs], stopwords="en", stemmer=stemmer, show_progress=False
        )
        lengths = [len(t) for t in tokens.ids]
        avgdl = sum(lengths) / len(lengths)
        retriever.index(tokens, show_progress=False)  # keeps tokens.vocab as vocab_dict
    else:
        lengths = []
        retriever.vocab_dict = {}
    logger.info("built the BM25 index of %d chunks in %.1fs", len(ids), time.perf_counter() - t0)
    built = Built(uuid.uuid4().hex[:16], log_id, log_seq, avgdl)
    return KeywordIndex(retriever, ids, metas, generation, stemmer, built, lengths=lengths)


def save(index: KeywordIndex, store: Path) -> None:
    """Write a full build atomically: a reader sees the old index or the new one, never half of
    one (a delta is saved by :func:`ensure_current`)."""
    if index.delta is not None or index.live is not None:
        raise ValueError("save() writes a full build; a delta is saved beside it")
    final = store / INDEX_DIR
    tmp = store / f".{INDEX_DIR}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o700)
    if index.ids:
        index.retriever.save(str(tmp), show_progress=False)
    if index.lengths is not None:
        import numpy as np

        np.save(tmp / LENGTHS, np.asarray(index.lengths, dtype=np.int32))
    (tmp / "chunks.json").write_text(
        json.dumps(
            {
                "format": FORMAT,
                "generation": index.generation,
                **index.built.as_dict(),
                "ids": index.ids,
                "meta": index.meta,
            }
        ),
        encoding="utf-8",
    )
    _write_state(tmp, index.generation, index.built, len(index.ids))
    old = store / f".{INDEX_DIR}.old{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


# format and generation alone: "is the saved index current?" without loading the index
STATE = "state.json"
LENGTHS = "lengths.npy"  # terms per chunk of the build, for folding a delta in (keyword_delta.fold)


def _write_state(d: Path, generation: str, built: Built, n_main: int) -> None:
    """The saved index's state (its generation with any delta, the build's facts): atomically."""
    tmp = d / f".{STATE}.tmp{os.getpid()}"
    tmp.write_text(
        json.dumps(
            {"format": FORMAT, "generation": generation, "n_main": n_main, **built.as_dict()}
        )
    )
    os.replace(tmp, d / STATE)


def _read_state(store: Path) -> dict | None:
    try:
        state = json.loads((store / INDEX_DIR / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get("format") == FORMAT else None


def _caught_up(
    base: Any, source: Any, built: Built, limit: int | None, stemmer: Any, generation: str
) -> Any:
    """``base`` (a keyword_delta.Delta of the build ``built``) extended with the items the
    store's log names after it, or None when the log cannot tell (another store's log, one
    trimmed past it) or the delta would hold more than ``limit`` chunks (None: no limit)."""
    from ingest.store import keyword_delta

    log = getattr(source, "keyword_log", None)
    if log is None or not built.log_id or log.log_id() != built.log_id:
        return None
    got = log.changed_since(base.log_seq)
    if got is None or (limit is not None and len(got[1]) > limit):
        return None
    head, items = got
    t0 = time.perf_counter()
    delta = keyword_delta.apply(base, source, items, analyser(stemmer), generation, head)
    logger.info(
        "caught the BM25 index up with %d changed items (%d chunks in its delta) in %.2fs",
        len(items),
        len(delta),
        time.perf_counter() - t0,
    )
    return delta if limit is None or len(delta) <= limit else None


def ensure_current(store: Path, source: Any, generation: str) -> None:
    """For an ingest (under the store's lock): make the saved index current. The items logged
    since it was built are re-read into its delta (one message's work for one new mail), unless
    that delta would outgrow :func:`keyword_delta.fold_limit`: then it is folded into a new full
    index (:func:`fold_in`; a rebuild from the store when the saved index cannot be), which
    trims the log. A delta update reads ``bm25/state.json`` and the delta, never the index."""
    from ingest.store import keyword_delta

    state = _read_state(store)
    if state and state.get("generation") == generation:
        return
    index = None
    if state:
        built, n_main, d = Built.from_dict(state), int(state.get("n_main") or 0), store / INDEX_DIR
        base = keyword_delta.read(d, built.build)
        if base is None:  # (a delta of deletions only holds no chunks: test for None)
            base = keyword_delta.Delta(
                built.build, str(state.get("generation") or ""), built.log_seq
            )
        limit = keyword_delta.fold_limit(n_main)
        delta = _caught_up(base, source, built, limit, _stemmer(), generation)
        if delta is not None:
            try:
                keyword_delta.write(d, delta)
                _write_state(d, generation, built, n_main)
            except OSError as exc:
                logger.warning("could not save the BM25 index's changes in %s: %s", d, exc)
            return
        index = fold_in(store, source, generation)
    if index is None:
        index = build(source, generation)
    try:
        save(index, store)
    except OSError as exc:
        logger.warning("could not save the BM25 index in %s: %s", store, exc)
        return
    log = getattr(source, "keyword_log", None)
    if log is not None and index.built.log_id:
        log.trim_log(index.built.log_seq)


def fold_in(
    store: Path, source: Any, generation: str, index: KeywordIndex | None = None
) -> KeywordIndex | None:
    """The saved index (``index`` when already loaded) with every change since it was built
    folded in (keyword_delta.fold): a full build of the store's chunks without reading them
    back, or None when the saved index or the store's log cannot tell (then :func:`build`)."""
    import uuid

    import numpy as np

    from ingest.store import keyword_delta

    t0 = time.perf_counter()
    if index is None:  # (not `or`: an index of no chunks is falsy)
        index = load(store)
    if index is None:
        return None
    try:
        lengths = np.load(store / INDEX_DIR / LENGTHS)
    except (OSError, ValueError):
        return None
    if len(lengths) != index.n_main or not index.n_main:
        return None
    delta = _caught_up(index.applied_delta(), source, index.built, None, index.stemmer, generation)
    if delta is None:
        return None
    arrays, vocab, ids, meta, new_lengths = keyword_delta.fold(
        KeywordIndex.with_delta(index, delta), lengths
    )
    retriever = _bm25s().BM25(backend="numpy")
    retriever.scores, retriever.vocab_dict = arrays, vocab
    retriever.nonoccurrence_array = None  # set by index(), read by save(): lucene has none
    avgdl = float(new_lengths.mean()) if len(new_lengths) else 0.0
    built = Built(uuid.uuid4().hex[:16], index.built.log_id, delta.log_seq, avgdl)
    logger.info(
        "folded %d changed chunks into the BM25 index of %d chunks in %.1fs",
        len(delta),
        len(ids),
        time.perf_counter() - t0,
    )
    return KeywordIndex(retriever, ids, meta, generation, index.stemmer, built, lengths=new_lengths)


def load(store: Path) -> KeywordIndex | None:
    """The saved index, or None when there is none or it cannot be read."""
    bm25s = _bm25s()
    d = store / INDEX_DIR
    try:
        data = json.loads((d / "chunks.json").read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"index format {data.get('format')} (this pdq writes {FORMAT})")
        if data["ids"]:
            logging.getLogger("bm25s").setLevel(logging.WARNING)
            # memory-mapped: a search reads only the pages its terms touch
            retriever = bm25s.BM25.load(str(d), show_progress=False, mmap=True)
        else:
            retriever = bm25s.BM25(backend="numpy")
            retriever.vocab_dict = {}
    except (OSError, ValueError, KeyError, ImportError) as exc:  # ImportError: saved for numba
        logger.info("no usable BM25 index in %s (%s)", d, exc)
        return None
    from ingest.store import keyword_delta

    built = Built.from_dict(data)
    main = KeywordIndex(retriever, data["ids"], data["meta"], data["generation"], _stemmer(), built)
    delta = keyword_delta.read(d, built.build) if built.build else None
    return KeywordIndex.with_delta(main, delta) if delta is not None else main


def catch_up(index: KeywordIndex, store: Any, generation: str) -> KeywordIndex | None:
    """``index`` brought to ``generation`` in memory from the items logged since it was made,
    or None when it cannot be (then load or rebuild: :func:`_caught_up`)."""
    from ingest.store import keyword_delta

    limit = keyword_delta.fold_limit(index.n_main)
    delta = _caught_up(index.applied_delta(), store, index.built, limit, index.stemmer, generation)
    return KeywordIndex.with_delta(index, delta) if delta is not None else None


def sync(store_path: Path, store: Any, generation: str) -> KeywordIndex:
    """Make sure the index matches ``generation``: the saved one, caught up from the store's
    keyword log in memory when it is a little behind, else folded in or rebuilt, and saved."""
    current = load(store_path)
    if current is not None and current.generation == generation:
        return current
    index = None
    if current is not None:
        fresh = catch_up(current, store, generation)
        if fresh is not None:
            return fresh
        index = fold_in(store_path, store, generation, current)
    if index is None:
        index = build(store, generation)
    try:
        save(index, store_path)
    except OSError as exc:  # a read-only store still searches, from memory
        logger.warning("could not save the BM25 index in %s: %s", store_path, exc)
    return index


def build_for(store: Any, generation: str) -> KeywordIndex:
    """Index every chunk of a :class:`~ingest.store.Store`, embedded or not yet."""
    return build(store, generation)


def sync_for(store: Any, generation: str) -> KeywordIndex:
    """:func:`sync` for a :class:`~ingest.store.Store`."""
    return sync(store.path, store, generation)
