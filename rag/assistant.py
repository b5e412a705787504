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
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.embedding import Embedder, make_embedder
from ingest.errors import ModelUnavailableError, RemoteError
from ingest.pipeline import Progress, ingest_paths
from ingest.report import IngestReport
from ingest.settings import Settings, load_settings
from ingest.store import Store

from . import answer_types, citations, grounding, listings
from .answer import Answer, Marked, Source
from .dates import user_now
from .filters import Filters, from_user
from .followup import standalone
from .generation import Backend, ExtractiveBackend, make_backend
from .glance import Glance, read_glance
from .item_view import ItemView, read_item
from .prompt import IDK, Prompt, build
from .status import StoreStatus, read_status

if TYPE_CHECKING:
    from .retrieval import Retrieval

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
                self._backends[name] = make_backend(self.settings.model_copy(update={"llm_backend": name}),
                                                    embed=lambda texts: self.embedder.embed(texts))
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
        return read_glance(self.store.collection, self.settings.timezone, self.now(now), days)

    def item(self, item_id: str) -> ItemView | None:
        """One stored item whole (all its chunks merged), or None when it is not in the store."""
        return read_item(self.store.collection, item_id, self.settings.timezone)

    def generator_name(self, backend: str | None = None) -> str:
        """What answers questions: the loaded model's name, else what the settings pick."""
        from .generation import pick_backend

        name = backend or self.settings.llm_backend
        if name == "auto":
            name = pick_backend(self.settings)
        if name == "extractive":
            return "direct answers (no model)"
        if name == "remote":
            m = self.settings.llm_model
            return f"{'the served model' if m == 'auto' else m} at {self.settings.llm_url}"
        loaded = self._backends.get(backend or self.settings.llm_backend) or (self._backend if backend is None else None)
        if loaded is not None and loaded.loaded():
            return str(loaded.name)
        m = self.settings.llm_model
        if m == "auto":
            return "packaged SmolLM2 (llama.cpp)" if name == "llamacpp" else "Llama 2 chat (transformers)"
        return m

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store = self._retriever = None

    # --- questions ----------------------------------------------------------------------------------
    def now(self, now: datetime | str | None = None) -> datetime:
        """"Now" for questions: ``now`` when given (a datetime or an ISO string), else the
        settings' pinned ``now``, else the clock; in the user's time zone."""
        return user_now(now if now is not None else self.settings.now, self.settings.timezone)

    _now = now  # the name earlier releases used

    def retrieve(self, query: str, k: int = 10, filters: Filters | dict | None = None, *,
                 now: datetime | str | None = None, mode: str | None = None,
                 rerank: bool | None = None) -> Retrieval:
        """Retrieval only, with everything it decided: the sources, the filters read from the
        question and given (``.plan.filters``), timings per stage, filters relaxed, and whether
        the store holds no answer (``.gated``, ``.abstain_reason``)."""
        when = self.now(now)
        r = self.retriever
        plan = r.plan(query, when, from_user(filters, self.settings.timezone))
        return r.search(plan, now=when, k=k, mode=mode, rerank=rerank)

    def search(self, query: str, k: int = 10, filters: Filters | dict | None = None, *, now: datetime | str | None = None,
               mode: str | None = None, rerank: bool | None = None) -> list[Source]:
        """Ranked sources for ``query`` (retrieval only, no language model)."""
        return self.retrieve(query, k, filters, now=now, mode=mode, rerank=rerank).sources

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
        """Yield the answer's text as it is generated, then the final :class:`Answer`.

        The steps: plan the question; a schedule or to-do question is listed from metadata
        (:meth:`_listing`); otherwise retrieve, and say "I don't know" when nothing in the store
        answers (:meth:`_abstain`); else answer directly or with a model (:meth:`_generate`), whose
        answer is checked (:meth:`_verified`) and replaced by the direct answer when it fails
        (:meth:`_direct`); then number the citations (:meth:`_finish`)."""
        turn = self._start(question, history, filters, now)
        if turn.plan.listing:
            yield from self._listing(turn)
            return
        found = self.retriever.search(turn.plan, now=turn.when, k=k, mode=mode, rerank=rerank)
        turn.timings.update(found.timings)
        _note_relaxed(turn.answer, found.relaxed)
        if found.gated or not found.sources:
            yield from self._abstain(turn, found)
            return
        turn.sources = found.sources
        yield from self._generate(turn, found, self.backend(backend), _streaming)

    # --- the steps of a question -----------------------------------------------------------------
    def _start(self, question: str, history: History | None, filters: Filters | dict | None,
               now: datetime | str | None) -> _Turn:
        started = time.perf_counter()
        when = self.now(now)
        turns = _pairs(history, self.settings.history_turns)
        query = standalone(question, turns)
        plan = self.retriever.plan(query, when, from_user(filters, self.settings.timezone))
        answer = Answer(question=question, text="", standalone_question=query, filters=plan.filters.describe())
        return _Turn(question, query, turns, when, plan, answer, {"plan": time.perf_counter() - started}, started)

    def _listing(self, turn: _Turn) -> Iterator[str | Answer]:
        """"What's on next week?", "What is still on my to-do list?": a list from metadata."""
        t0 = time.perf_counter()
        sources = self.retriever.listing(turn.plan)
        for i, s in enumerate(sources, 1):
            s.n, s.cited = i, True
        text = (listings.schedule_text(sources, turn.plan.filters) if turn.plan.listing == "schedule"
                else listings.todos_text(sources, turn.plan.filters, turn.when))
        turn.timings["listing"] = time.perf_counter() - t0
        a = turn.answer
        a.text, a.sources, a.listing, a.backend = text, sources, True, "metadata"
        yield text
        yield turn.done()

    def _abstain(self, turn: _Turn, found: Any) -> Iterator[str | Answer]:
        """Nothing in the store answers: "I don't know", with the closest matches and the reason."""
        for s in found.sources:
            s.n = 0
        a = turn.answer
        a.text, a.sources, a.abstained, a.backend = IDK, found.sources, True, "none"
        a.abstain_reason = found.abstain_reason or "nothing in your documents matches the question"
        yield IDK
        yield turn.done()

    def _prompt(self, turn: _Turn, sources: list[Source], gen: Backend) -> Prompt:
        budget = gen.prompt_budget
        return build(turn.question if not turn.turns else turn.query, sources, now=turn.when, history=turn.turns,
                     count_tokens=gen.count_tokens if budget else None, budget=budget, small=gen.small)

    def _direct_backend(self) -> ExtractiveBackend:
        return ExtractiveBackend(self.embedder.embed)

    def _direct(self, turn: _Turn, sources: list[Source]) -> tuple[Marked, Prompt]:
        """The direct answer (no model) over ``sources``, computed once per question; also what
        every fall-back shows."""
        if turn.direct is None:  # numbered on copies: a model's prompt may have numbered the same sources
            prompt = build(turn.query, [replace(s) for s in sources], now=turn.when, history=turn.turns)
            d = self._direct_backend().direct(prompt, turn.query)
            turn.direct = Marked(d.text or IDK, d.highlights), prompt
        return turn.direct

    def _fall_back(self, turn: _Turn, sources: list[Source], why: str) -> tuple[Marked, Prompt]:
        """Say in one line why the model's answer is not shown; the direct answer instead."""
        turn.answer.warnings.append(why)
        turn.answer.backend_fallback = "extractive"
        logger.warning("%s", why)
        return self._direct(turn, sources)

    def _generate(self, turn: _Turn, found: Any, gen: Backend, streaming: bool) -> Iterator[str | Answer]:
        t0 = time.perf_counter()
        if isinstance(gen, ExtractiveBackend):
            text, prompt = self._direct(turn, found.sources)
            turn.timings["generate"] = time.perf_counter() - t0
            yield text
            yield self._finish(turn, text, prompt, found.sources, gen.name)
            return
        try:
            prompt = self._prompt(turn, found.sources, gen)
        except ModelUnavailableError as exc:
            text, prompt = self._fall_back(turn, found.sources, f"{exc} — answered without a model (direct answer)")
            yield text
            yield self._finish(turn, text, prompt, found.sources, "extractive")
            return
        turn.timings["prompt"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        released: list[str] = []
        try:
            raw = gen.stream(prompt, turn.query) if streaming else iter([gen.complete(prompt, turn.query)])
            if self.settings.llm_verify and gen.small:
                verdict = yield from self._verified(turn, raw, prompt, released)
            else:
                verdict = yield from self._passed_through(turn, raw, released)
        except RemoteError as exc:  # the model server is down, slow or misnamed
            if released:
                raise
            verdict = f"{exc} — answered without a model (direct answer)"
        turn.timings["generate"] = time.perf_counter() - t0
        text: str = "".join(released).strip()
        name = gen.name
        if verdict and not text:
            text, prompt = self._fall_back(turn, found.sources, verdict)
            name = "extractive"
            yield text
        elif verdict:
            turn.answer.warnings.append(f"the rest of the model's answer was left out: {verdict}")
        elif self.settings.llm_verify and not gen.small and not _is_idk(text):
            missing = grounding.unsupported(text, _context(prompt))
            if missing:
                turn.answer.warnings.append(f"check this answer: {', '.join(missing[:4])} not found in the sources")
        yield self._finish(turn, Marked(text or IDK), prompt, found.sources, name)

    def _passed_through(self, turn: _Turn, raw: Iterator[str], released: list[str]) -> Iterator[str]:
        """A capable model's tokens, shown as they come (checked afterwards, with a warning)."""
        for piece in raw:
            if not released:
                turn.timings["first_token"] = time.perf_counter() - turn.started
            released.append(piece)
            yield piece
        return ""

    def _verified(self, turn: _Turn, raw: Iterator[str], prompt: Prompt, released: list[str]) -> Iterator[str]:
        """A small model's answer, released sentence by sentence once each is checked: its numbers,
        dates and names of days must be in the passages, and the thing the question asks for (the
        amount for "how much") must be in the passage it cites, next to the question's words.
        Returns why it stopped ("" when the whole answer passed)."""
        context = _context(prompt)
        pending = ""
        for piece in raw:
            pending += piece
            cut = _last_sentence_end(pending)
            if cut <= 0:
                continue
            why = self._check(turn, "".join(released) + pending[:cut], pending[:cut], prompt, context, final=False)
            if why is None:
                continue  # the answer's subject has not come yet: wait for more
            if why:
                return why
            if not released:
                turn.timings["first_token"] = time.perf_counter() - turn.started
            released.append(pending[:cut])
            yield pending[:cut]
            pending = pending[cut:]
        if pending.strip() or not released:
            why = self._check(turn, "".join(released) + pending, pending, prompt, context, final=True)
            if why:
                return why
            if not released:
                turn.timings["first_token"] = time.perf_counter() - turn.started
            released.append(pending)
            yield pending
        return ""

    def _check(self, turn: _Turn, so_far: str, new: str, prompt: Prompt, context: str, *, final: bool) -> str | None:
        """"" when ``new`` may be shown, the reason when it may not, None to wait for more text."""
        if _is_idk(so_far):
            return ""
        missing = grounding.unsupported(new, context)
        if missing:
            why = ("it is a question, not an answer" if missing == ["the answer is a question"]
                   else f"{', '.join(missing[:4])} appear in none of them")
            return (f"the local model's answer ({so_far.strip()[:120]!r}) is not backed by your documents "
                    f"({why}), so the direct answer is shown")
        foreign = grounding.too_foreign(new, context, turn.question)
        if foreign:
            return (f"the local model's answer ({so_far.strip()[:120]!r}) says what your documents do not "
                    f"({', '.join(repr(w) for w in foreign[:4])}), so the direct answer is shown")
        if new != so_far:  # the typed checks gate the first release only
            return ""
        off = grounding.off_source(so_far, turn.question, prompt.sources) or self._disagrees(turn, so_far)
        if off and not final:
            return None
        if off:
            return (f"the local model's answer ({so_far.strip()[:120]!r}) does not answer the question from "
                    f"your documents ({off}), so the direct answer is shown")
        return ""

    def _disagrees(self, turn: _Turn, text: str) -> str:
        """A small model's typed answer must name what the direct answer found ("£180"), when
        the direct answer found one: the model may phrase it, not replace it."""
        if answer_types.wanted(turn.question) not in answer_types.TYPED:
            return ""
        spans = self._direct(turn, turn.sources)[0].highlights
        if not spans:
            return ""
        best = spans[0]  # the direct answer's first line: its best passage
        if grounding.same(best, text) or any(grounding.same(e, best) for e in grounding.entities(text, turn.question)):
            return ""
        return f"it disagrees with the passage that answers it ({best})"

    def _finish(self, turn: _Turn, text: Marked, prompt: Prompt, retrieved: list[Source], backend: str) -> Answer:
        """Number the citations, list the sources (those not shown to the model last), time it."""
        a = turn.answer
        body, ordered = citations.apply(str(text), prompt.sources)
        a.text, a.highlights = body, [h for h in text.highlights if h in body]
        in_prompt = {s.chunk_id for s in prompt.sources}
        for s in retrieved:
            if s.chunk_id not in in_prompt:
                s.n = 0  # retrieved, but not shown to the model
        a.sources = ordered + [s for s in retrieved if s.chunk_id not in in_prompt]
        a.backend = backend
        a.abstained = _is_idk(body)
        if prompt.truncated:
            a.warnings.append(f"{prompt.truncated} source(s) cut or left out to fit the model's window")
        return turn.done()


@dataclass
class _Turn:
    """One question on its way through :meth:`Assistant.stream`'s steps."""

    question: str
    query: str  # the question made standalone (follow-ups)
    turns: list[tuple[str, str]]
    when: datetime
    plan: Any
    answer: Answer
    timings: dict[str, float]
    started: float
    sources: list[Source] = field(default_factory=list)  # what retrieval found
    direct: tuple[Marked, Prompt] | None = None  # the direct answer, once a check or a fall-back needed it

    def done(self) -> Answer:
        self.answer.timings = {**self.timings, "total": time.perf_counter() - self.started}
        return self.answer


def _is_idk(text: str) -> bool:
    return text.strip().lower().startswith(("i don't know", "i do not know"))


def _context(prompt: Prompt) -> str:
    return "\n".join(m["content"] for m in prompt.messages)


def _last_sentence_end(text: str) -> int:
    """Where the last complete sentence of ``text`` ends (0: none yet)."""
    ends = [m.end() for m in re.finditer(r"[.!?](?:\s*\[\d{1,2}\])?(?=\s)|\n", text)]
    return ends[-1] if ends else 0
