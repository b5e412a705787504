"""Exact evidence for a question from the keyword index: which of its terms are rare in the store
(names, numbers, codes, addresses), which chunks contain them, and which of its names the store
has never seen.

Dense similarity is vague about names: "What is the phone number of Shona Wilson?" is close to
every mail about phones. A term that occurs in few chunks is strong evidence, so the retriever
lifts the chunks that hold the question's rare terms (:meth:`TermEvidence.coverage`), and the
"nothing here" decision asks whether the names in the question occur in the store at all
(:attr:`TermEvidence.unknown_names`). Everything comes from the BM25 index's postings (a sparse
matrix already in memory, and a delta's: ingest/store/keyword_delta.py): no extra index, no model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .dates import MONTHS, WEEKDAYS
from .text import STOPWORDS

# A term is rare when at most this share of the chunks holds it (and never fewer than RARE_MIN).
RARE_SHARE = 0.01
RARE_MIN = 5
# Words that start a name-like run in a question without being a name.
_TITLES = {"dr", "mr", "mrs", "ms", "miss", "prof", "sir", "dame", "st", "mt"}
_NAME_RUN = re.compile(r"(?<![\w'])([A-Z][\w'&-]*\.?(?:\s+[A-Z][\w'&-]*\.?)*)")
_CALENDAR = {*WEEKDAYS, *MONTHS, "today", "tomorrow", "yesterday", "tonight", "easter", "christmas"}
_QUESTION_WORDS = {
    "who",
    "what",
    "when",
    "where",
    "which",
    "why",
    "how",
    "is",
    "are",
    "was",
    "were",
    "did",
    "does",
    "do",
    "can",
    "could",
    "will",
    "would",
    "should",
    "has",
    "have",
    "i",
    "my",
    "the",
    "a",
    "an",
    "please",
    "tell",
    "show",
    "list",
    "find",
}


@dataclass
class TermEvidence:
    """The question's terms as the keyword index sees them."""

    idf: dict[str, float] = field(default_factory=dict)  # every known query token → idf
    rare: dict[str, Any] = field(
        default_factory=dict
    )  # rare token → positions of chunks holding it
    names: list[list[str]] = field(default_factory=list)  # name runs of the question, as tokens
    unknown_names: list[str] = field(default_factory=list)  # names whose last word no chunk holds

    @property
    def rare_mass(self) -> float:
        return sum(self.idf[t] for t in self.rare)

    def coverage(self, positions: Any) -> Any:
        """For chunk positions (array), the idf-weighted share of the rare terms each holds (0..1)."""
        import numpy as np

        pos = np.asarray(positions)
        out = np.zeros(len(pos), dtype=np.float64)
        total = self.rare_mass
        if not total or not len(pos):
            return out
        for t, holders in self.rare.items():
            out += self.idf[t] * np.isin(pos, holders)
        return out / total


def name_runs(question: str) -> list[str]:
    """Runs of capitalised words after the question's first word ("Shona Wilson", "PEP Help
    Desk"), without leading titles and question words."""
    runs = []
    for m in _NAME_RUN.finditer(question):
        if m.start() == 0:  # the first word is capitalised anyway: drop it from the run
            words = m.group(1).split()[1:]
        else:
            words = m.group(1).split()
        words = [
            w.rstrip(".")
            for w in words
            if w.rstrip(".").lower() not in _TITLES | _QUESTION_WORDS | _CALENDAR
        ]
        if words:
            runs.append(" ".join(words))
    return runs


def analyse(index: Any, question: str) -> TermEvidence:
    """Rare terms and unknown names of ``question`` in a loaded keyword index."""
    from ingest.store.keyword_delta import lucene_idf
    from ingest.store.keyword_index import tokenize

    ev = TermEvidence()
    n_docs = index.n_docs
    if not n_docs:
        return ev
    limit = max(RARE_MIN, int(RARE_SHARE * n_docs))
    stop = set(
        tokenize([" ".join(sorted(STOPWORDS))], index.stemmer)[0]
    )  # bm25s's own list is short
    for tok in dict.fromkeys(tokenize([question], index.stemmer)[0]):
        d = index.df(tok)
        if not d:
            continue
        ev.idf[tok] = lucene_idf(n_docs, d)
        if d <= limit and tok not in stop:
            ev.rare[tok] = index.postings(tok)
    for run in name_runs(question):
        toks = [t for t in tokenize([run], index.stemmer)[0] if t]
        if not toks:
            continue
        ev.names.append(toks)
        if index.df(toks[-1]) == 0:  # the surname / main word: "New York", "Dr. Abernathy"
            ev.unknown_names.append(run)
    return ev
