"""The BM25 keyword index over the same chunks as the Chroma collection (for hybrid search).

Built with ``bm25s`` (sparse matrices, fast) from the chunk texts in Chroma (embedded or still
staged by an ingest's first phase) (a mail's chunks also
carry its whole To/Cc list here, which the embedded text shortens), English stopwords
and a Snowball stemmer, and saved in ``<store>/bm25/`` with the chunk ids and the few metadata
fields that filters use (kind, date, sender, thread...), so keyword hits can be filtered exactly
like vector hits without asking Chroma.

Kept in sync by ingest: every write or delete bumps the manifest's ``content_generation``; at the
end of a run that changed anything the index is rebuilt (bm25s has no incremental update; a
rebuild of 30,000 chunks takes a few seconds). A reader that finds a stale or missing index
rebuilds it in memory, so search never uses an index that disagrees with the store.
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
FORMAT = (
    5  # what keyword_text()/joined_terms() index and FILTER_FIELDS keep; another format is rebuilt
)


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
class KeywordIndex:
    """A loaded BM25 index: ``ids[i]`` and ``meta[i]`` describe document ``i``."""

    retriever: Any
    ids: list[str]
    meta: list[dict]
    generation: str
    stemmer: Any
    _pos: dict[str, int] = field(init=False, repr=False)
    _columns: dict[str, Any] | None = field(default=None, init=False, repr=False)
    _threads: dict[str, list[int]] | None = field(default=None, init=False, repr=False)
    _mentions: dict[int, list[int]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._pos = {cid: i for i, cid in enumerate(self.ids)}

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
        out = np.ones(len(self.ids), dtype=bool)
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
            for i, x in enumerate(self.meta):
                t = x.get("thread_id")
                if t:
                    threads.setdefault(t, []).append(i)
            self._threads = threads
        return self._threads.get(thread_id, [])

    def __len__(self) -> int:
        return len(self.ids)

    def tokens(self, text: str) -> list[str]:
        """``text`` as this index spells its terms (stopwords out, stemmed)."""
        return list(tokenize([text], self.stemmer)[0])

    def search(self, query: str, k: int, mask: Any = None) -> list[tuple[str, float]]:
        """Top ``k`` chunk ids with BM25 scores; ``mask`` (bool array) limits the documents."""
        import numpy as np

        if not self.ids:
            return []
        tokens = tokenize([query], self.stemmer)
        vocab = self.retriever.vocab_dict
        tokens = [[t for t in tokens[0] if t in vocab]]
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


def _read_all(store: Any) -> tuple[list[str], list[str], list[dict]]:
    """Every chunk of the store, embedded or not yet: ids, indexed texts, filter fields."""
    ids, docs, metas = store.all_chunks(PAGE)
    return (
        ids,
        [keyword_text(d, m) for d, m in zip(docs, metas, strict=True)],
        [{k: m.get(k) for k in FILTER_FIELDS if m.get(k) is not None} for m in metas],
    )


def build(store: Any, generation: str) -> KeywordIndex:
    """Index every chunk of a :class:`~ingest.store.Store`."""
    bm25s = _bm25s()

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on itself
    t0 = time.perf_counter()
    ids, docs, metas = _read_all(store) if store.collection is not None else ([], [], [])
    stemmer = _stemmer()
    retriever = bm25s.BM25(backend="numpy")  # same scores in every process, numba or not
    if docs:
        tokens = bm25s.tokenize(
            [joined_terms(d) for d in docs], stopwords="en", stemmer=stemmer, show_progress=False
        )
        retriever.index(tokens, show_progress=False)  # keeps tokens.vocab as vocab_dict
    else:
        retriever.vocab_dict = {}
    logger.info("built the BM25 index of %d chunks in %.1fs", len(ids), time.perf_counter() - t0)
    return KeywordIndex(retriever, ids, metas, generation, stemmer)


def save(index: KeywordIndex, store: Path) -> None:
    """Write atomically: a reader sees the old index or the new one, never half of one."""
    final = store / INDEX_DIR
    tmp = store / f".{INDEX_DIR}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o700)
    if index.ids:
        index.retriever.save(str(tmp), show_progress=False)
    (tmp / "chunks.json").write_text(
        json.dumps(
            {"format": FORMAT, "generation": index.generation, "ids": index.ids, "meta": index.meta}
        ),
        encoding="utf-8",
    )
    _write_state(tmp, index.generation)
    old = store / f".{INDEX_DIR}.old{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


# format and generation alone: "is the saved index current?" without loading the index
STATE = "state.json"


def _write_state(d: Path, generation: str) -> None:
    (d / STATE).write_text(json.dumps({"format": FORMAT, "generation": generation}))


def is_current(store: Path, generation: str) -> bool:
    """Is the saved index of this format and ``generation``? Reads a few bytes, not the index
    (whose metadata is tens of MB for a big mailbox: an unchanged re-sync needs no more)."""
    try:
        state = json.loads((store / INDEX_DIR / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(state.get("format") == FORMAT and state.get("generation") == generation)


def ensure_current(store: Path, source: Any, generation: str) -> None:
    """For an ingest: rebuild and save the index unless the saved one is current."""
    if is_current(store, generation):
        return
    index = sync(store, source, generation)
    if (store / INDEX_DIR).is_dir() and not (store / INDEX_DIR / STATE).exists():
        try:  # an index saved by an older pdq: remember its state for next time
            _write_state(store / INDEX_DIR, index.generation)
        except OSError:
            pass


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
    return KeywordIndex(retriever, data["ids"], data["meta"], data["generation"], _stemmer())


def sync(store_path: Path, store: Any, generation: str) -> KeywordIndex:
    """Make sure the saved index matches ``generation``; rebuild and save it when not."""
    current = load(store_path)
    if current is not None and current.generation == generation:
        return current
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
