"""One question on its way to an answer: the steps :meth:`rag.Assistant.stream` runs.

:class:`AnswerRun` holds what one question gathers (its plan, the sources, timings, the answer
being built) and runs the steps in order: plan → a listing from metadata (schedules, open to-dos)
or retrieval → "I don't know" when nothing answers → the direct answer, or a model's answer that
is checked sentence by sentence (:meth:`AnswerRun._verified`) and replaced by the direct answer
when it fails → citations and timings (:meth:`AnswerRun._finish`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from ingest.core.errors import ModelUnavailableError, RemoteError

from . import answer_types, citations, grounding, listings, release
from .answer import Answer, Marked, Source
from .filters import Filters, from_user
from .followup import standalone
from .generation import Backend, ExtractiveBackend
from .prompt import IDK, Prompt, build, build_for, context_of
from .question import checked

if TYPE_CHECKING:
    from .assistant import Assistant

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


_RELAXED = {
    "dates": "nothing dated {v} matched, so matches from any date are shown",
    "from": "nothing from {v} matched, so matches from anyone are shown",
    "to": "nothing sent to {v} matched, so matches to anyone are shown",
}


def _note_relaxed(answer: Answer, relaxed: list[str]) -> None:
    """Say which filter read from the question was dropped because it found nothing."""
    for key in relaxed:
        v = answer.filters.get(key, "")
        answer.filters[key] = f"{v} (relaxed: nothing matched)"
        answer.warnings.append(_RELAXED[key].format(v=v))


class AnswerRun:
    """One question: ``AnswerRun(assistant, question, ...).stream(...)`` yields the answer's text
    as it is released, then the final :class:`Answer`."""

    def __init__(
        self,
        assistant: Assistant,
        question: str,
        history: History | None,
        filters: Filters | dict[str, Any] | None,
        now: datetime | str | None,
    ) -> None:
        self.started = time.perf_counter()
        self.assistant = assistant
        self.settings = assistant.settings
        question, cut_note = checked(question)
        self.question = question
        self.when = assistant.now(now)
        self.turns = _pairs(history, self.settings.history_turns)
        self.query = standalone(question, self.turns)  # the question made standalone (follow-ups)
        self.plan = assistant.retriever.plan(
            self.query, self.when, from_user(filters, self.settings.timezone)
        )
        filters_read = self.plan.filters.describe()
        self.answer = Answer(question, "", standalone_question=self.query, filters=filters_read)
        if cut_note:
            self.answer.warnings.append(cut_note)
        self.timings: dict[str, float] = {"plan": time.perf_counter() - self.started}
        self.sources: list[Source] = []  # what retrieval found
        # the direct answer, once a check or a fall-back needed it
        self.direct: tuple[Marked, Prompt] | None = None

    def stream(
        self,
        *,
        k: int | None = None,
        mode: str | None = None,
        rerank: bool | None = None,
        backend: str | None = None,
        streaming: bool = True,
    ) -> Iterator[str | Answer]:
        if self.plan.listing:
            yield from self._listing()
            return
        found = self.assistant.retriever.search(
            self.plan, now=self.when, k=k, mode=mode, rerank=rerank
        )
        self.timings.update(found.timings)
        _note_relaxed(self.answer, found.relaxed)
        if found.semantic:
            done, total = found.semantic
            self.answer.warnings.append(
                f"semantic index: {done:,} of {total:,} items (an ingest is still embedding; "
                "the rest is searched by keyword)"
            )
        if found.gated or not found.sources:
            yield from self._abstain(found)
            return
        self.sources = found.sources
        yield from self._generate(found, self.assistant.backend(backend), streaming)

    def done(self) -> Answer:
        self.answer.timings = {**self.timings, "total": time.perf_counter() - self.started}
        return self.answer

    def _listing(self) -> Iterator[str | Answer]:
        """ "What's on next week?", "What is still on my to-do list?": a list from metadata."""
        t0 = time.perf_counter()
        sources = self.assistant.retriever.listing(self.plan)
        for i, s in enumerate(sources, 1):
            s.n, s.cited = i, True
        text = listings.text_for(self.plan.listing, sources, self.plan.filters, self.when)
        self.timings["listing"] = time.perf_counter() - t0
        a = self.answer
        a.text, a.sources, a.listing, a.backend = text, sources, True, "metadata"
        yield text
        yield self.done()

    def _abstain(self, found: Any) -> Iterator[str | Answer]:
        """Nothing in the store answers: "I don't know", with the closest matches and the reason."""
        for s in found.sources:
            s.n = 0
        a = self.answer
        a.text, a.sources, a.abstained, a.backend = IDK, found.sources, True, "none"
        a.abstain_reason = found.abstain_reason or "nothing in your documents matches the question"
        yield IDK
        yield self.done()

    def _direct_backend(self) -> ExtractiveBackend:
        return ExtractiveBackend(self.assistant.embedder.embed)

    def _direct(self, sources: list[Source]) -> tuple[Marked, Prompt]:
        """The direct answer (no model) over ``sources``, computed once per question (numbered
        on copies: a model's prompt may have numbered the same sources); also what every
        fall-back shows."""
        if self.direct is None:
            copies = [replace(s) for s in sources]
            prompt = build(self.query, copies, now=self.when, history=self.turns)
            d = self._direct_backend().direct(prompt, self.query)
            self.direct = Marked(d.text or IDK, d.highlights), prompt
        return self.direct

    def _fall_back(self, sources: list[Source], why: str) -> tuple[Marked, Prompt]:
        """Say in one line why the model's answer is not shown; the direct answer instead."""
        self.answer.warnings.append(why)
        self.answer.backend_fallback = "extractive"
        logger.warning("%s", why)
        return self._direct(sources)

    def _generate(self, found: Any, gen: Backend, streaming: bool) -> Iterator[str | Answer]:
        t0 = time.perf_counter()
        try:
            if isinstance(gen, ExtractiveBackend):
                direct, prompt = self._direct(found.sources)
            else:
                prompt = build_for(
                    gen,
                    self.question if not self.turns else self.query,
                    found.sources,
                    now=self.when,
                    history=self.turns,
                )
        except ModelUnavailableError as exc:
            why = f"{exc} — answered without a model (direct answer)"
            direct, prompt = self._fall_back(found.sources, why)
            gen = self._direct_backend()
        self.timings["prompt" if gen.prompt_budget else "generate"] = time.perf_counter() - t0
        if isinstance(gen, ExtractiveBackend):
            yield direct
            yield self._finish(direct, prompt, found.sources, gen.name)
            return
        yield from self._model_answer(found, gen, prompt, streaming)

    def _model_answer(
        self, found: Any, gen: Backend, prompt: Prompt, streaming: bool
    ) -> Iterator[str | Answer]:
        """The model's answer, released as it comes (checked sentence by sentence for a small
        model); the direct answer when nothing of it may be shown."""
        t0 = time.perf_counter()
        released: list[str] = []
        try:
            raw = (
                gen.stream(prompt, self.query)
                if streaming
                else iter([gen.complete(prompt, self.query)])
            )
            if self.settings.llm_verify and gen.small:
                check = partial(
                    grounding.small_model_problem,
                    question=self.question,
                    sources=prompt.sources,
                    context=context_of(prompt),
                    direct_span=self._direct_span,
                )
                verdict = yield from release.checked(raw, released, check, self._first_text)
            else:
                verdict = yield from release.as_generated(raw, released, self._first_text)
        except RemoteError as exc:  # the model server is down, slow or misnamed: no model answered
            if released:
                raise
            verdict = f"{exc} — answered without a model (direct answer)"
            gen = self._direct_backend()
        self.timings["generate"] = time.perf_counter() - t0
        text = "".join(released).strip()
        # the model's name stays on an answer whose text was replaced (backend_fallback says so)
        shown, name = Marked(text or IDK), gen.name
        if verdict and not text:
            shown, prompt = self._fall_back(found.sources, verdict)
            self._first_text()
            yield shown
        elif verdict:
            self.answer.warnings.append(f"the rest of the model's answer was left out: {verdict}")
        elif self.settings.llm_verify and not gen.small and not _is_idk(text):
            missing = grounding.unsupported(text, context_of(prompt))
            if missing:
                self.answer.warnings.append(
                    f"check this answer: {', '.join(missing[:4])} not found in the sources"
                )
        yield self._finish(shown, prompt, found.sources, name)

    def _first_text(self) -> None:
        self.timings.setdefault("first_token", time.perf_counter() - self.started)

    def _direct_span(self) -> str:
        """What the direct answer found for a typed question ("£180"), "" when nothing."""
        if answer_types.wanted(self.question) not in answer_types.TYPED:
            return ""
        spans = self._direct(self.sources)[0].highlights
        return spans[0] if spans else ""  # the direct answer's first line: its best passage

    def _finish(
        self, text: Marked, prompt: Prompt, retrieved: list[Source], backend: str
    ) -> Answer:
        """Number the citations, list the sources (those not shown to the model last), time it."""
        a = self.answer
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
            a.warnings.append(
                f"{prompt.truncated} source(s) cut or left out to fit the model's window"
            )
        return self.done()


def _is_idk(text: str) -> bool:
    return text.strip().lower().startswith(("i don't know", "i do not know"))
