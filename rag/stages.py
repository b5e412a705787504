"""The retrieval stages' shared types: a :class:`Candidate` chunk with its per-stage scores and
the :class:`Query` every stage reads (the plan, the mode, how many to fetch, timings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .intent import Plan
from .term_match import TermEvidence

RRF_K = 60  # reciprocal-rank fusion constant: a first place is worth 1/61


@dataclass
class Candidate:
    """One chunk on its way through the stages; ``text``/``meta`` are None until fetched."""

    chunk_id: str
    text: str | None
    meta: dict[str, Any] | None
    scores: dict[str, float] = field(default_factory=dict)
    score: float = 0.0


@dataclass
class Query:
    """What one search asks of the stages."""

    plan: Plan
    mode: str  # "dense" | "bm25" | "hybrid"
    n: int  # candidates each retriever returns
    k: int  # sources wanted
    now: datetime
    rerank: bool
    per_group: int  # chunks per thread / series / file
    timings: dict[str, float] = field(default_factory=dict)
    evidence: TermEvidence | None = None  # the question's rare terms (rag.term_match)
    kw: Any = None  # the KeywordIndex, looked up once per search (its freshness is a query)
