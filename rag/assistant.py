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
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.core.settings import Settings, load_settings
from ingest.embedding import Embedder, make_embedder
from ingest.store import Store

from .answer import Answer, Source
from .answering import AnswerRun, History
from .dates import user_now
from .filters import Filters, from_user
from .generation import Backend, describe_backend, make_backend
from .glance import Glance, read_glance
from .item_view import ItemView, read_item
from .question import checked
from .status import StoreStatus, read_status

if TYPE_CHECKING:
    from ingest.pipeline import Progress
    from ingest.report import IngestReport
    from ingest.store.manifest import Root

    from .retrieval import Retrieval, Retriever

logger = logging.getLogger(__name__)


class Assistant:
    """pdq's API. ``Assistant(store=..., **settings)`` or ``Assistant(settings=Settings(...))``."""

    def __init__(
        self,
        store: str | Path | None = None,
        *,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        backend: Backend | None = None,
        **overrides: Any,
    ) -> None:
        from ingest.core.privacy import apply_offline_env

        apply_offline_env()
        if settings is None:
            settings = load_settings(store=store, **overrides)
        elif store is not None or overrides:
            settings = settings.model_copy(
                update={"store": Path(store).expanduser() if store else settings.store, **overrides}
            )
        self.settings = settings
        self._embedder = embedder
        self._backend = backend
        self._backends: dict[str, Backend] = {}
        self._retriever: Retriever | None = None
        self._store: Store | None = None
        self._lock = threading.RLock()
        self._preload = False

    # --- lazily created parts ---------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedding model, created on first use and kept for the Assistant's life."""
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings)
            return self._embedder

    def warm_up(self) -> None:
        """Start loading the query embedding model in a background thread, so it loads while
        the store opens (a terminal ``pdq search`` starts sooner). Errors surface on first use."""

        self._preload = True  # the store's vector index loads in the background once opened
        warm = getattr(self.embedder, "warm", None)
        if warm is None:
            return
        # modules are imported here, in the caller's thread: two threads importing numpy at
        # once can see it half-initialised. The thread only reads files and builds the session.
        import numpy  # noqa: F401
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401

        def load() -> None:
            try:
                warm()
            except Exception as exc:  # reported when the search itself uses the model
                logger.debug("warming the embedding model failed: %s", exc)

        threading.Thread(target=load, name="pdq-warm-up").start()

    @property
    def store(self) -> Store:
        """The store, opened on first use (no model needed). Raises StoreError when none exists."""
        with self._lock:
            if self._store is None:
                self._store = Store.open(
                    self.settings.store,
                    create=False,
                    chroma_url=self.settings.chroma_url,
                    collection=self.settings.chroma_collection,
                )
                if self._preload:
                    self._store.preload()
            return self._store

    @property
    def retriever(self) -> Retriever:
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
                self._backends[name] = make_backend(
                    self.settings.model_copy(update={"llm_backend": name}),
                    embed=lambda texts: self.embedder.embed(texts),
                )
            return self._backends[name]

    # --- ingest and status ------------------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        rebuild: bool = False,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Ingest (or re-sync) files and folders. See :func:`ingest.ingest_paths`."""
        from ingest.pipeline import ingest_paths  # the parsers load only for an ingest

        report = ingest_paths(
            paths,
            self.settings,
            rebuild=rebuild,
            dry_run=dry_run,
            embedder=self.embedder,
            progress=progress,
        )
        if rebuild:
            self.close()  # the collection was re-created: reopen on next use
        return report

    def sync(self, *, progress: Progress | None = None) -> IngestReport:
        """Ingest again every folder and file this store was given (``pdq sync``): new, changed
        and deleted items, and files that failed last time."""
        from ingest.pipeline import sync_roots

        return sync_roots(self.settings, embedder=self.embedder, progress=progress)

    def sources(self) -> list[Root]:
        """The folders and files this store was given, with items, files and failures."""
        store = self.store
        return store.manifest.roots()

    def forget(self, path: str | Path) -> IngestReport:
        """Remove a folder (or a file, or a sub-folder of one) and every item only it held."""
        from ingest.pipeline import forget_path

        return forget_path(path, self.settings)

    def conversation(self, thread_id: str) -> list[Source]:
        """Every stored message of one thread, oldest first (from metadata; no model)."""
        from .listings import list_items

        found = list_items(self.store, {"thread_id": thread_id}, self.settings.timezone, 500)
        return [s for s in found if s.kind == "email"]

    def status(self) -> StoreStatus:
        """What the store holds (no model is loaded)."""
        s = self.settings
        return read_status(s.store, chroma_url=s.chroma_url, collection=s.chroma_collection)

    def glance(self, now: datetime | str | None = None, days: int = 7) -> Glance:
        """Today's and the next ``days`` days' events and the open to-dos, from metadata only."""
        return read_glance(self.store, self.settings.timezone, self.now(now), days)

    def item(self, item_id: str) -> ItemView | None:
        """One stored item whole (all its chunks merged), or None when it is not in the store."""
        return read_item(self.store, item_id, self.settings.timezone)

    def generator_name(self, backend: str | None = None) -> str:
        """What answers questions: the loaded model's name, else what the settings pick."""
        loaded = self._backends.get(backend or self.settings.llm_backend) or (
            self._backend if backend is None else None
        )
        return describe_backend(self.settings, backend, loaded)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store = self._retriever = None

    # --- questions ----------------------------------------------------------------------------------
    def now(self, now: datetime | str | None = None) -> datetime:
        """ "Now" for questions: ``now`` when given (a datetime or an ISO string), else the
        settings' pinned ``now``, else the clock; in the user's time zone."""
        return user_now(now if now is not None else self.settings.now, self.settings.timezone)

    def retrieve(
        self,
        query: str,
        k: int = 10,
        filters: Filters | dict[str, Any] | None = None,
        *,
        now: datetime | str | None = None,
        mode: str | None = None,
        rerank: bool | None = None,
    ) -> Retrieval:
        """Retrieval only, with everything it decided: the sources, the filters read from the
        question and given (``.plan.filters``), timings per stage, filters relaxed, and whether
        the store holds no answer (``.gated``, ``.abstain_reason``)."""
        query, _ = checked(query)  # empty: ValueError; too long: cut to what the models read
        when = self.now(now)
        r = self.retriever
        plan = r.plan(query, when, from_user(filters, self.settings.timezone))
        return r.search(plan, now=when, k=k, mode=mode, rerank=rerank)

    def search(
        self,
        query: str,
        k: int = 10,
        filters: Filters | dict[str, Any] | None = None,
        *,
        now: datetime | str | None = None,
        mode: str | None = None,
        rerank: bool | None = None,
    ) -> list[Source]:
        """Ranked sources for ``query`` (retrieval only, no language model)."""
        return self.retrieve(query, k, filters, now=now, mode=mode, rerank=rerank).sources

    def ask(
        self,
        question: str,
        history: History | None = None,
        filters: Filters | dict[str, Any] | None = None,
        now: datetime | str | None = None,
        **options: Any,
    ) -> Answer:
        """Answer ``question`` from the store, with sources. Options: k, mode, rerank, backend."""
        answer = None
        for piece in self.stream(question, history, filters, now, _streaming=False, **options):
            if isinstance(piece, Answer):
                answer = piece
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        history: History | None = None,
        filters: Filters | dict[str, Any] | None = None,
        now: datetime | str | None = None,
        *,
        k: int | None = None,
        mode: str | None = None,
        rerank: bool | None = None,
        backend: str | None = None,
        _streaming: bool = True,
    ) -> Iterator[str | Answer]:
        """Yield the answer's text as it is released, then the final :class:`Answer`. The steps
        (plan, listing or retrieval, abstain, direct or model answer, checks, citations) are
        :class:`rag.answering.AnswerRun`'s."""
        run = AnswerRun(self, question, history, filters, now)
        yield from run.stream(k=k, mode=mode, rerank=rerank, backend=backend, streaming=_streaming)
