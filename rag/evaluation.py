"""Measure retrieval and answers on a question set (``sample_docs/questions.jsonl``).

Each line: ``{"id", "category", "question", "expected": [source keys], "answer": [fragments],
"history": [earlier questions]}``. A source key matches a retrieved source when all its fields
do: ``message_id`` (exact), ``kind`` (exact), ``title`` (case-insensitive substring), ``file``
(end of the path). Questions with no expected sources are unanswerable: the right answer is
"I don't know".

Reported per category and overall, for dense, BM25, hybrid and (when a reranker is configured)
hybrid+rerank: recall@1/5/10 (a question counts when any expected source is in the top k) and
MRR; then, for a generation backend, the answer-fragment hit rate (any fragment in the answer)
and the abstention rate on unanswerable questions (and on answerable ones, which should be low).
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ingest.core.errors import ConfigError

from .answer import Source
from .followup import standalone

KS = (1, 5, 10)


@dataclass
class EvalQuestion:
    id: str
    category: str
    question: str
    expected: list[dict[str, str]]
    answer: list[str]
    history: list[str] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return bool(self.expected)


def load_questions(path: str | Path) -> list[EvalQuestion]:
    """A question set: pdq's JSON lines, or a SQuAD-format file of mail Q/A pairs (the Enron set:
    see :func:`enron_questions`)."""
    out = []
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if raw.lstrip().startswith("{") and '"paragraphs"' in raw[:2000]:
        return enron_questions(json.loads(raw))
    lines = raw.splitlines()
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(
                EvalQuestion(
                    d.get("id", f"q{i}"),
                    d.get("category", "other"),
                    d["question"],
                    d.get("expected", []),
                    d.get("answer", []),
                    d.get("history", []),
                )
            )
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"{path}:{i}: not a question line ({exc})") from exc
    return out


# --- the Enron set --------------------------------------------------------------------------------
# Most of its 674 questions were written to be asked *of one given mail* ("Who received the email?",
# "What is requested?"): asked of a whole mailbox they have no single answer. A question stands on
# its own when it names what it is about: a capitalised name after its first word ("Who is Jeff
# McMahon?", "When was the Exotic Energy Derivatives conference?"), or the phone/fax number or email
# address of something named ("... of the PEP Help Desk?"). Those are kept, once each.
_GENERIC_HEAD = re.compile(r"^(who|what|when|where|which|how)\b", re.I)
_NAMED_THING = re.compile(r"\b(phone number|fax number|email address|e-mail address)s? of\b", re.I)
_NOT_A_NAME = {"I", "Houston"}
# Asked of the same mailbox, about people and things no message mentions: pdq should abstain.
ENRON_UNANSWERABLE = (
    "What is the email address of Ingrid Halvorsen?",
    "What is the phone number of Dr. Okonkwo's office?",
    "Who is Marguerite Vandersloot?",
    "When is my appointment with Dr. Abernathy?",
    "Where will the Zanzibar offsite take place?",
    "What is the fax number of Pemberton Logistics?",
)


def self_contained(question: str) -> bool:
    """Does an Enron question name what it is about (see the rule above)?"""
    words = re.findall(r"[A-Za-z][\w'&.-]*", question)
    named = [w for w in words[1:] if w[0].isupper() and w not in _NOT_A_NAME]
    return bool(named) or bool(_NAMED_THING.search(question))


def _enron_category(q: str) -> str:
    low = q.lower()
    if "email address" in low or "e-mail address" in low:
        return "address"
    if "phone number" in low or "fax number" in low:
        return "phone"
    if low.startswith("who is") or low.startswith("who are"):
        return "who"
    if low.startswith(("when", "where")):
        return "when-where"
    return "other"


def enron_questions(data: dict[str, Any]) -> list[EvalQuestion]:
    """The self-contained questions of a SQuAD-format mail Q/A set, once each. A retrieved source
    counts when it is the question's mail (by Message-ID) or holds an expected answer text, headers
    included (many answers are addresses in From/To/Cc; the same fact can be in several mails)."""
    grouped: dict[str, tuple[set[str], set[str]]] = {}
    for doc in data.get("data", []):
        for para in doc.get("paragraphs", []):
            m = re.search(r"^Message-ID:\s*(<[^>]+>)", para.get("context", ""), re.M | re.I)
            for qa in para.get("qas", []):
                q = " ".join(qa["question"].split())
                texts = [
                    " ".join(a["text"].split())
                    for a in qa.get("answers", [])
                    if a.get("text", "").strip()
                ]
                if qa.get("is_impossible") or not texts or not self_contained(q):
                    continue
                mids, answers = grouped.setdefault(q, (set(), set()))
                if m:
                    mids.add(m.group(1))
                answers.update(t.strip(" .,;:") for t in texts)
    out = []
    for i, (q, (mids, answers)) in enumerate(sorted(grouped.items()), 1):
        # an answer text counts as evidence only when it is specific ("Employee" is in many mails)
        specific = [
            a for a in sorted(answers) if len(a) >= 8 and (re.search(r"[\d@]", a) or " " in a)
        ]
        expected = [{"message_id": mid} for mid in sorted(mids)] + [
            {"contains": a} for a in specific
        ]
        out.append(EvalQuestion(f"enron{i:03d}", _enron_category(q), q, expected, sorted(answers)))
    for j, q in enumerate(ENRON_UNANSWERABLE, 1):
        out.append(EvalQuestion(f"enron-none{j}", "unanswerable", q, [], []))
    return out


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _searchable(source: Source) -> str:
    """A source's text and its mail headers (sender, recipients), for answer-text matching."""
    meta = source.meta
    parts = [
        source.text,
        str(meta.get("from") or ""),
        str(meta.get("from_addr") or ""),
        str(meta.get("from_name") or ""),
    ]
    for key in ("to", "cc"):
        v = meta.get(key)
        parts += [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v or "")]
    return _norm(" ".join(parts))


def matches(source: Source, key: dict[str, str]) -> bool:
    meta = source.meta
    for k, v in key.items():
        if k == "contains" and _norm(v) not in _searchable(source):
            return False
        if k == "message_id" and meta.get("message_id") != v:
            return False
        if k == "kind" and source.kind != v:
            return False
        if k == "title" and v.lower() not in source.title.lower():
            return False
        if k == "file" and not (source.path.endswith("/" + v) or source.path.endswith(v)):
            return False
    return True


def first_hit(sources: list[Source], expected: list[dict[str, str]]) -> int | None:
    """1-based rank of the first source matching any expected key."""
    for rank, s in enumerate(sources, 1):
        if any(matches(s, key) for key in expected):
            return rank
    return None


def fragment_hit(text: str, fragments: list[str]) -> bool:
    norm = re.sub(r"\s+", " ", text.lower())
    return any(re.sub(r"\s+", " ", f.lower()) in norm for f in fragments)


def _retrieval_table(
    ranks: dict[str, dict[str, list[int | None]]],
) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for mode, by_cat in ranks.items():
        out[mode] = {}
        every: list[int | None] = []
        for cat, rs in sorted(by_cat.items()):
            every += rs
            out[mode][cat] = _metrics(rs)
        out[mode]["all"] = _metrics(every)
    return out


def _metrics(rs: list[int | None]) -> dict[str, float]:
    n = len(rs) or 1
    m = {f"recall@{k}": sum(1 for r in rs if r is not None and r <= k) / n for k in KS}
    m["mrr"] = sum(1.0 / r for r in rs if r is not None) / n
    m["n"] = len(rs)
    return m


def evaluate(
    assistant: Any,
    questions: list[EvalQuestion],
    *,
    now: datetime | str,
    modes: tuple[str, ...] = ("dense", "bm25", "hybrid"),
    backend: str | None = None,
    answers: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the question set; returns {"retrieval": table, "answers": {...}, "per_question": [...]}."""
    when = assistant.now(now)
    want_rerank = bool(assistant.settings.reranker_model)
    all_modes = list(modes) + (["hybrid+rerank"] if want_rerank and "hybrid" in modes else [])
    ranks: dict[str, dict[str, list[int | None]]] = {m: defaultdict(list) for m in all_modes}
    per_q: list[dict[str, Any]] = []
    answer_rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for q in questions:
        turns = [(h, "") for h in q.history]
        query = standalone(q.question, turns)
        row: dict[str, Any] = {"id": q.id, "category": q.category, "question": q.question}
        if q.answerable:
            for mode in all_modes:
                base = mode.split("+")[0]
                found = assistant.retrieve(
                    query, 10, now=when, mode=base, rerank=mode.endswith("rerank")
                )
                rank = first_hit(found.sources, q.expected)
                ranks[mode][q.category].append(rank)
                row[f"rank_{mode}"] = rank
        if answers:
            ans = assistant.ask(q.question, history=turns, now=when, backend=backend)
            row.update(_answer_row(q, ans))
            answer_rows.append(row)
        per_q.append(row)
        if progress:
            progress(q.id)
    result: dict[str, Any] = {
        "questions": len(questions),
        "now": when.isoformat(),
        "retrieval": _retrieval_table(ranks),
        "per_question": per_q,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if not want_rerank:
        result["rerank"] = (
            "not measured: no reranker configured (none ships offline on PyPI; set PDQ_RERANKER_MODEL)"
        )
    if answers:
        result["answers"] = _answer_table(answer_rows, backend or assistant.settings.llm_backend)
    return result


def _answer_row(q: EvalQuestion, ans: Any) -> dict[str, Any]:
    """How one answer did: its text, abstained or not, the expected fragment and source."""
    cited = first_hit(ans.cited or ans.sources, q.expected) is not None if q.answerable else None
    return {
        "answer": ans.text,
        "abstained": ans.abstained,
        "gated": bool(ans.abstain_reason),
        "hit": fragment_hit(ans.text, q.answer) if q.answerable else None,
        "cited_expected": cited,
        "seconds": round(ans.timings.get("total", 0.0), 3),
        "fallback": ans.backend_fallback,
    }


def _answer_table(answer_rows: list[dict[str, Any]], backend: str) -> dict[str, Any]:
    ok = [x for x in answer_rows if x["hit"] is not None]
    un = [x for x in answer_rows if x["hit"] is None]
    by_cat: dict[str, list[bool]] = defaultdict(list)
    for x in ok:
        by_cat[x["category"]].append(bool(x["hit"]))
    return {
        "backend": backend,
        "fragment_hit_rate": sum(x["hit"] for x in ok) / (len(ok) or 1),
        "fragment_hit_by_category": {c: sum(v) / len(v) for c, v in sorted(by_cat.items())},
        "cites_expected_source": sum(bool(x["cited_expected"]) for x in ok) / (len(ok) or 1),
        "abstention_unanswerable": sum(x["abstained"] for x in un) / (len(un) or 1),
        "abstention_answerable": sum(x["abstained"] for x in ok) / (len(ok) or 1),
        # the retrieval's "nothing here" decision alone (rag.abstention), before any reader
        "gate_unanswerable": sum(x["gated"] for x in un) / (len(un) or 1),
        "gate_answerable": sum(x["gated"] for x in ok) / (len(ok) or 1),
        "model_answer_replaced": sum(bool(x["fallback"]) for x in answer_rows)
        / (len(answer_rows) or 1),
        "n_answerable": len(ok),
        "n_unanswerable": len(un),
    }


def format_table(result: dict[str, Any]) -> str:
    """Markdown tables of the result."""
    lines = ["| mode | category | n | R@1 | R@5 | R@10 | MRR |", "|---|---|---|---|---|---|---|"]
    for mode, cats in result["retrieval"].items():
        for cat, m in cats.items():
            lines.append(
                f"| {mode} | {'**all**' if cat == 'all' else cat} | {m['n']} | {m['recall@1']:.2f} | "
                f"{m['recall@5']:.2f} | {m['recall@10']:.2f} | {m['mrr']:.2f} |"
            )
    if "rerank" in result:
        lines.append(f"\nhybrid+rerank: {result['rerank']}")
    a = result.get("answers")
    if a:
        lines += [
            "",
            f"Answers ({a['backend']}): fragment hit rate {a['fragment_hit_rate']:.2f} on {a['n_answerable']} "
            f"answerable; cites an expected source {a['cites_expected_source']:.2f}; abstains on "
            f"{a['abstention_unanswerable']:.2f} of {a['n_unanswerable']} unanswerable and "
            f'{a["abstention_answerable"]:.2f} of answerable (retrieval\'s own "nothing here": '
            f"{a['gate_unanswerable']:.2f} / {a['gate_answerable']:.2f}); model answer replaced by passages "
            f"{a['model_answer_replaced']:.2f}.",
            "",
            "| category | fragment hit |",
            "|---|---|",
        ]
        lines += [f"| {c} | {v:.2f} |" for c, v in a["fragment_hit_by_category"].items()]
    return "\n".join(lines)
