"""The "nothing here" decision: should pdq answer "I don't know" instead of showing passages?

One cosine threshold abstained on a quarter of the questions whose subject is nowhere in the
store. The rule now (calibrated on ``sample_docs/questions.jsonl`` and the Enron set; see
docs/evaluation.md), in order:

1. **An unknown name.** The question names someone or something ("Dr. Abernathy", "New York")
   whose main word occurs in no chunk at all (the BM25 vocabulary knows).
2. **Nothing close.** No chunk is at least ``min_relevance`` similar to the question (cosine).
3. **No answer of the wanted type near the subject.** A question that wants a phone number, an
   email address, an amount, a date or time, a code or a count, when none of the best passages
   has such a thing in the same sentence (or the next) as at least half of the question's subject
   words ("passport" in "what is my passport number?", "wifi password Lyon office").
   Requiring the single rarest subject word instead rejected a tenth of the answerable questions.

Each rule says why, for the answer's warnings and ``pdq ask --json``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from . import answer_types
from .answer import Source
from .dates import MONTHS, WEEKDAYS
from .term_match import TermEvidence
from .text import STOPWORDS, sentence_split

# words that say which type is wanted, not what it is about
_TYPE_WORDS = """phone number telephone mobile fax email e-mail address much cost price charge fee pay paid
spend spent balance amount total many time date day when where who next last first code reference id pin
after before since until up""".split()
_CALENDAR = (
    {w[:3] for w in (*WEEKDAYS, *MONTHS)} | set(WEEKDAYS) | set(MONTHS)
)  # a date's words are not its subject
_ADDRESS = re.compile(r"([\w.+-]+)@[\w-]+(?:\.[\w-]+)+")


def _subject(
    question: str, evidence: TermEvidence | None, tokenize: Callable[[str], list[str]]
) -> list[str]:
    """The question's subject words as the keyword index spells them, rarest first (a word no
    chunk holds sorts first); the words that only name the answer type left out."""
    idf = evidence.idf if evidence is not None else {}
    plain = [
        w
        for w in re.findall(r"[\w'-]+", question.lower())
        if w not in STOPWORDS and w not in _TYPE_WORDS and w not in _CALENDAR and not w.isdigit()
    ]
    generic = set(tokenize(" ".join(sorted(STOPWORDS | set(_TYPE_WORDS)))))
    words = [t for t in dict.fromkeys(tokenize(" ".join(plain))) if t not in generic and len(t) > 2]
    return sorted(words, key=lambda t: -idf.get(t, float("inf")))


def _windows(source: Source) -> list[str]:
    """A source's sentences, each with the next one (a phone number often follows a name's line),
    plus its mail headers (sender and every recipient) with the words inside the addresses."""
    meta = source.meta
    heads = " ".join(str(meta.get(k) or "") for k in ("from", "to", "cc")).strip()
    sents = sentence_split(source.text) + ([heads] if heads else [])
    out = []
    for i in range(len(sents)):
        w = " ".join(sents[i : i + 2])
        words = " ".join(x for local in _ADDRESS.findall(w) for x in re.split(r"[._+-]+", local))
        out.append(f"{w} {words}" if words else w)
    return out


def typed_answer_present(
    question: str,
    kind: str,
    sources: Sequence[Source],
    evidence: TermEvidence | None,
    tokenize: Callable[[str], list[str]],
) -> bool:
    """Does a source hold an entity of ``kind`` in a window that holds at least half of the
    question's subject words (those the store knows; words no chunk holds are paraphrases:
    "plumber" for "plumbing")? Counted, not idf-weighted: a rare word planted in one stranger's
    mail must not outweigh the real invoice. An event or to-do answers a date question with its
    own date."""
    idf = evidence.idf if evidence is not None else {}
    subject = {t for t in _subject(question, evidence, tokenize) if t in idf or not idf}
    for s in sources:
        for w in _windows(s):
            if subject and len(subject & set(tokenize(w))) < len(subject) / 2:
                continue
            if answer_types.find(w, kind):
                return True
            if kind in ("date", "time") and s.kind in ("event", "todo") and s.date is not None:
                return True
    return False


def reason_to_abstain(
    question: str,
    sources: Sequence[Source],
    evidence: TermEvidence | None,
    best_dense: float | None,
    min_relevance: float,
    tokenize: Callable[[str], list[str]],
) -> str:
    """Why the store holds no answer ("" when it may)."""
    if evidence is not None and evidence.unknown_names:
        return f"nothing in your documents mentions {', '.join(evidence.unknown_names)}"
    if best_dense is not None and best_dense < min_relevance:
        return "nothing in your documents is close to the question"
    kind = answer_types.wanted(question)
    if kind not in answer_types.TYPED or not sources:
        return ""
    if not typed_answer_present(question, kind, sources, evidence, tokenize):
        return (
            f"none of the best matches has {_KIND_WORDS[kind]} next to what the question is about"
        )
    return ""


_KIND_WORDS = {
    "email": "an email address",
    "phone": "a phone number",
    "money": "an amount",
    "time": "a time",
    "date": "a date or time",
    "code": "a number or code",
    "count": "a number",
}
