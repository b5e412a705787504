"""``rag.Assistant``: the one library API that the CLI, the Streamlit page and notebooks call.

Cheap to construct: settings are resolved once; the embedding model, the store, the BM25 index
and the language model load lazily on first use and are kept for the Assistant's life.

    >>> from rag import Assistant
    >>> a = Assistant(store="~/.local/share/pdq/store")
    >>> a.ingest(["~/Mail", "~/Documents/notes"])
    >>> a.ask("When is my dentist appointment?")
    >>> for piece in a.stream("What did Anna say about the budget last week?"): ...
    >>> a.search("boiler invoice", k=5)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ingest.embedding import Embedder, make_embedder
from ingest.errors import ModelUnavailableError, RemoteError
from ingest.pipeline import Progress, ingest_paths
from ingest.report import IngestReport
from ingest.settings import Settings, load_settings
from ingest.store import Store

from . import citations, grounding, listings
from .answer import Answer, Source
from .dates import user_now
from .filters import Filters, from_user
from .followup import standalone
from .generation import Backend, ExtractiveBackend, make_backend
from .glance import Glance, read_glance
from .item_view import ItemView, read_item
from .prompt import IDK, build
from .status import StoreStatus, read_status

logger = logging.getLogger(__name__)

History = Sequence[Any]  # (question, answer) pairs, Answer objects, or {"role", "content"} dicts


def _pairs(history: History | None, limit: int) -> list[tuple[str, str]]:
    if not history:
        return []
    out: list[tuple[str, str]] = []
    pending_q: str | None = None
    for h in history:
        if isinstance(h, Answer):
            out.append((h.standalone_question or h.question, h.text))
        elif isinstance(h, dict):
            if h.get("role") == "user":
                pending_q = str(h.get("content", ""))
            elif h.get("role") == "assistant" and pending_q is not None:
                out.append((pending_q, str(h.get("content", ""))))
                pending_q = None
        else:
            q, a = h
            out.append((str(q), str(a)))
    return out[-limit:] if limit else []


_RELAXED = {"dates": "nothing dated {v} matched, so matches from any date are shown",
            "from": "nothing from {v} matched, so matches from anyone are shown"}


def _note_relaxed(answer: Answer, relaxed: list[str]) -> None:
    """Say which filter read from the question was dropped because it found nothing."""
    for key in relaxed:
        v = answer.filters.get(key, "")
        answer.filters[key] = f"{v} (relaxed: nothing matched)"
        answer.warnings.append(_RELAXED[key].format(v=v))


class Assistant:
    """pdq's API. ``Assistant(store=..., **settings)`` or ``Assistant(settings=Settings(...))``."""

    def __init__(self, store: str | Path | None = None, *, settings: Settings | None = None,
                 embedder: Embedder | None = None, backend: Backend | None = None, **overrides: Any) -> None:
        from ingest.privacy import apply_offline_env

        apply_offline_env()
        if settings is None:
            settings = load_settings(store=store, **overrides)
        elif store is not None or overrides:
            settings = settings.model_copy(update={"store": Path(store).expanduser() if store else settings.store, **overrides})
        self.settings = settings
        self._embedder = embedder
        self._backend = backend
        self._backends: dict[str, Backend] = {}
        self._retriever: Any = None
        self._store: Any = None
        self._lock = threading.RLock()

    # --- lazily created parts ---------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedding model, created on first use and kept for the Assistant's life."""
        if self._embedder is None:
            self._embedder = make_embedder(self.settings)
        return self._embedder

    @property
    def store(self) -> Store:
        """The store, opened on first use (no model needed). Raises StoreError when none exists."""
        with self._lock:
            if self._store is None:
                self._store = Store.open(self.settings.store, create=False,
                                         chroma_url=self.settings.chroma_url,
                                         collection=self.settings.chroma_collection)
            return self._store

    @property
    def retriever(self) -> Any:
        """The retriever over the store (created on first use; a store built with another
        embedding model raises StoreMismatchError)."""
        with self._lock:
            if self._retriever is None:
                from .retrieval import Retriever

                store = self.store
                store.check(model=self.embedder.name)
                self._retriever = Retriever(store, self.embedder, self.settings)
            return self._retriever

    def backend(self, name: str | None = None) -> Backend:
        """The generation backend (``settings.llm_backend`` unless named), loaded once."""
        if self._backend is not None and name is None:
            return self._backend
        name = name or self.settings.llm_backend
        with self._lock:
            if name not in self._backends:
                self._backends[name] = make_backend(self.settings.model_copy(update={"llm_backend": name}))
            return self._backends[name]

    # --- ingest and status ------------------------------------------------------------------------
    def ingest(self, paths: Iterable[str | Path], *, rebuild: bool = False, dry_run: bool = False,
               progress: Progress | None = None) -> IngestReport:
        """Ingest (or re-sync) files and folders. See :func:`ingest.ingest_paths`."""
        report = ingest_paths(paths, self.settings, rebuild=rebuild, dry_run=dry_run,
                              embedder=self.embedder, progress=progress)
        if rebuild:
            self.close()  # the collection was re-created: reopen on next use
        return report

    def status(self) -> StoreStatus:
        """What the store holds (no model is loaded)."""
        s = self.settings
        return read_status(s.store, chroma_url=s.chroma_url, collection=s.chroma_collection)

    def glance(self, now: datetime | str | None = None, days: int = 7) -> Glance:
        """Today's and the next ``days`` days' events and the open to-dos, from metadata only."""
        return read_glance(self.store.collection, self.settings.timezone, self._now(now), days)

    def item(self, item_id: str) -> ItemView | None:
        """One stored item whole (all its chunks merged), or None when it is not in the store."""
        return read_item(self.store.collection, item_id, self.settings.timezone)

    def generator_name(self, backend: str | None = None) -> str:
        """The generation model's name: the loaded one, else what the settings ask for."""
        name = backend or self.settings.llm_backend
        if name == "extractive":
            return "extractive (no model)"
        if name == "remote":
            m = self.settings.llm_model
            return f"{'the served model' if m == 'auto' else m} at {self.settings.llm_url}"
        loaded = self._backends.get(name) or (self._backend if backend is None else None)
        if loaded is not None and getattr(loaded, "_model", None) is not None:
            return str(loaded.name)
        m = self.settings.llm_model
        return "auto (Llama 2 chat on a GPU when on disk, else packaged SmolLM2)" if m == "auto" else m

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store = self._retriever = None

    # --- questions ----------------------------------------------------------------------------------
    def _now(self, now: datetime | str | None) -> datetime:
        return user_now(now if now is not None else self.settings.now, self.settings.timezone)

    def search(self, query: str, k: int = 10, filters: Filters | dict | None = None, *, now: datetime | str | None = None,
               mode: str | None = None, rerank: bool | None = None) -> list[Source]:
        """Ranked sources for ``query`` (retrieval only, no language model)."""
        when = self._now(now)
        r = self.retriever
        plan = r.plan(query, when, from_user(filters, self.settings.timezone))
        return r.search(plan, now=when, k=k, mode=mode, rerank=rerank).sources

    def ask(self, question: str, history: History | None = None, filters: Filters | dict | None = None,
            now: datetime | str | None = None, **options: Any) -> Answer:
        """Answer ``question`` from the store, with sources. Options: k, mode, rerank, backend."""
        answer = None
        for piece in self.stream(question, history, filters, now, _streaming=False, **options):
            if isinstance(piece, Answer):
                answer = piece
        assert answer is not None
        return answer

    def stream(self, question: str, history: History | None = None, filters: Filters | dict | None = None,
               now: datetime | str | None = None, *, k: int | None = None, mode: str | None = None,
               rerank: bool | None = None, backend: str | None = None,
               _streaming: bool = True) -> Iterator[str | Answer]:
        """Yield the answer's text as it is generated, then the final :class:`Answer`."""
        t_start = time.perf_counter()
        when = self._now(now)
        turns = _pairs(history, self.settings.history_turns)
        query = standalone(question, turns)
        r = self.retriever
        t0 = time.perf_counter()
        plan = r.plan(query, when, from_user(filters, self.settings.timezone))
        timings: dict[str, float] = {"plan": time.perf_counter() - t0}
        answer = Answer(question=question, text="", standalone_question=query, filters=plan.filters.describe())

        if plan.listing:
            t0 = time.perf_counter()
            sources = r.listing(plan)
            for i, s in enumerate(sources, 1):
                s.n, s.cited = i, True
            text = (listings.schedule_text(sources, plan.filters) if plan.listing == "schedule"
                    else listings.todos_text(sources, plan.filters, when))
            timings["listing"] = time.perf_counter() - t0
            answer.text, answer.sources, answer.listing, answer.backend = text, sources, True, "metadata"
            answer.timings = {**timings, "total": time.perf_counter() - t_start}
            yield text
            yield answer
            return

        found = r.search(plan, now=when, k=k, mode=mode, rerank=rerank)
        timings.update(found.timings)
        _note_relaxed(answer, found.relaxed)
        if found.gated or not found.sources:
            for s in found.sources:
                s.n = 0
            answer.text, answer.sources, answer.abstained, answer.backend = IDK, found.sources, True, "none"
            answer.abstain_reason = found.abstain_reason or "nothing in your documents matches the question"
            answer.timings = {**timings, "total": time.perf_counter() - t_start}
            yield IDK
            yield answer
            return

        gen = self.backend(backend)
        pieces: list[str] = []
        t0 = time.perf_counter()
        try:
            small = bool(getattr(gen, "small", False))
            prompt = build(question if not turns else query, found.sources, now=when, history=turns,
                           count_tokens=gen.count_tokens if gen.prompt_budget else None, budget=gen.prompt_budget,
                           small=small)
        except ModelUnavailableError as exc:
            answer.warnings.append(f"{exc} — answered without a model (extractive)")
            logger.warning("%s", exc)
            gen, small = ExtractiveBackend(), False
            prompt = build(query, found.sources, now=when, history=turns)
        timings["prompt"] = time.perf_counter() - t0
        verify = self.settings.llm_verify and gen.name != "extractive"
        t0 = time.perf_counter()
        whole = getattr(gen, "complete", None)
        try:
            for piece in gen.stream(prompt, query) if _streaming or whole is None else [whole(prompt)]:
                if not pieces:
                    timings["first_token"] = time.perf_counter() - t0
                pieces.append(piece)
                if not (verify and small):  # a tiny model's answer is checked before it is shown
                    yield piece
        except RemoteError as exc:  # the model server is down, slow or misnamed
            if pieces:
                raise
            answer.warnings.append(f"{exc} — answered without a model (extractive)")
            logger.warning("%s", exc)
            gen, small, verify = ExtractiveBackend(), False, False
            prompt = build(query, found.sources, now=when, history=turns)
            for piece in gen.stream(prompt, query):
                pieces.append(piece)
                yield piece
        timings["generate"] = time.perf_counter() - t0
        text = "".join(pieces).strip() or IDK
        if verify and not text.lower().startswith(("i don't know", "i do not know")):
            context = "\n".join(m["content"] for m in prompt.messages)
            missing = grounding.unsupported(text, context)
            # a tiny model must also answer what was asked: "when" needs a date, "how much" an amount
            lacking = grounding.lacks_wanted(text, question) if small and not missing else ""
            if (missing or lacking) and small:
                why = f"{', '.join(missing[:4])} appear in none of them" if missing else lacking
                answer.warnings.append(
                    f"the local model's answer ({text[:120]!r}) is not backed by your documents "
                    f"({why}), so the passages that answer it are shown instead")
                text = "".join(ExtractiveBackend().stream(prompt, query)).strip() or IDK
                answer.backend_fallback = "extractive"
            elif missing:
                answer.warnings.append(f"check this answer: {', '.join(missing[:4])} not found in the sources")
        if verify and small:
            yield text
        text, ordered = citations.apply(text, prompt.sources)
        answer.text = text
        in_prompt = {s.chunk_id for s in prompt.sources}
        for s in found.sources:
            if s.chunk_id not in in_prompt:
                s.n = 0  # retrieved, but not shown to the model
        answer.sources = ordered + [s for s in found.sources if s.chunk_id not in in_prompt]
        answer.backend = gen.name
        answer.abstained = text.lower().startswith("i don't know") or text.lower().startswith("i do not know")
        if prompt.truncated:
            answer.warnings.append(f"{prompt.truncated} source(s) cut or left out to fit the model's window")
        answer.timings = {**timings, "total": time.perf_counter() - t_start}
        yield answer
