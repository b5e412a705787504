"""A cheap check that an answer's hard facts come from its sources.

Numbers, times, amounts, weekday and month names in the answer must appear in the context the
model was given; an answer that is a question is not an answer. Tiny CPU models invent dates
and sums ("the invoice is £1,450"); when this check fails pdq shows the best passages instead
(the extractive answer) and says so. For large models it only adds a warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .answer import Source
from .citations import MARKER, cited_numbers
from .dates import MONTHS, WEEKDAYS

_NUM = re.compile(r"\d+(?:[.,:]\d+)*")


def _norm_num(s: str) -> str:
    s = s.replace(",", "")
    return s[:-3] if s.endswith(".00") else s


def unsupported(answer: str, context: str) -> list[str]:
    """The facts in ``answer`` that ``context`` does not contain (empty: looks grounded)."""
    if answer.strip().endswith("?"):
        return ["the answer is a question"]
    ctx = context.lower()
    ctx_nums = {_norm_num(n) for n in _NUM.findall(ctx)}
    ctx_nums |= {n.lstrip("0") for n in ctx_nums}
    missing: list[str] = []
    body = MARKER.sub(" ", answer)  # citation markers are not facts
    for n in _NUM.findall(body):
        v = _norm_num(n)
        if v not in ctx_nums and v.lstrip("0") not in ctx_nums:
            missing.append(n)
    words = set(re.findall(r"[a-z]+", body.lower()))
    for name in (*WEEKDAYS, *MONTHS):
        if name in words and not re.search(rf"\b{name[:3]}", ctx):
            missing.append(name)
    return missing


def lacks_wanted(answer: str, question: str) -> str:
    """What a typed question wants that the answer does not contain ("a date" for "when...?" when
    the answer holds no date), or "" when it does or the question is untyped. A small model that
    answers "when" with no date has not answered, whatever its words."""
    from . import answer_types

    kind = answer_types.wanted(question)
    if kind not in answer_types.TYPED or answer_types.find(answer, kind):
        return ""
    if kind == "date" and answer_types.find(answer, "time"):
        return ""
    return f"it names no {_KIND_WORDS[kind]}, which the question asks for"


_KIND_WORDS = {
    "email": "email address",
    "phone": "phone number",
    "money": "amount",
    "time": "time",
    "date": "date",
    "code": "number or code",
    "count": "number",
}


def _cited(answer: str, sources: Sequence[Source]) -> list[Source]:
    nums = set(cited_numbers(answer))
    return [s for s in sources if s.n in nums] or list(sources)


def same(entity: str, segment: str) -> bool:
    """Does ``segment`` hold ``entity``, allowing for format ("£180" / "GBP 180.00", "Thursday 19
    March" / "Thu 2026-03-19")? Its numbers and its words (first three letters) must all be there."""
    nums = [n.lstrip("0") for n in re.findall(r"\d+", entity.replace(",", "")) if n.strip("0")]
    seg_nums = {n.lstrip("0") for n in re.findall(r"\d+", segment.replace(",", ""))}
    words = [w[:3] for w in re.findall(r"[a-z]{3,}", entity.lower()) if w not in _FILLER]
    seg = segment.lower()
    return (
        (bool(nums) or bool(words))
        and all(n in seg_nums for n in nums)
        and all(w in seg for w in words)
    )


def _mentions(text: str, q: set[str]) -> list[int]:
    """Where ``text`` mentions one of the question's words (sharing its first five letters:
    "plumber" / "Plumbing", "charge" / "charges")."""
    from .text import terms

    keys = {t[:5] for t in q}
    return [
        m.start()
        for m in re.finditer(r"[\w'£$€]+", text)
        if any(t[:5] in keys for t in terms(m.group()))
    ]


_FILLER = {
    "the",
    "and",
    "pounds",
    "pound",
    "dollars",
    "euros",
    "gbp",
    "usd",
    "eur",
    "at",
    "on",
    "of",
}


def off_source(answer: str, question: str, sources: Sequence[Source], window: int = 160) -> str:
    """Why a typed answer is not backed by the block it cites, or "" when it is: the entity that
    answers the question (the amount for "how much", the date for "when") must occur in a cited
    block within ``window`` characters of one of the question's words. "The plumber charged 5% VAT"
    fails for "What did the plumber charge?": it names no amount."""
    from . import answer_types
    from .text import terms

    kind = answer_types.wanted(question)
    if kind not in answer_types.TYPED:
        return ""
    lacking = lacks_wanted(answer, question)
    if lacking:
        return lacking
    body = MARKER.sub(" ", answer)
    found = answer_types.find(body, kind) or (
        answer_types.find(body, "time") if kind == "date" else []
    )
    q = terms(question)
    for a, b in found:
        ent = body[a:b].strip()
        for s in _cited(answer, sources):
            text = s.text
            if _mentions(text.split("\n", 1)[0], q) and same(ent, text):
                return ""  # the block is about it (its sender or subject names it): anywhere in it
            words = _mentions(text, q) or ([0] if not q else [])
            if any(same(ent, text[max(0, w - window) : w + window]) for w in words):
                return ""
    return f"its {_KIND_WORDS[kind]} is not next to what the question asks about in the passage it cites"


def foreign_words(answer: str, context: str, question: str) -> list[str]:
    """The answer's content words found neither in the context nor in the question (compared by
    their first five letters: "charged" meets "charge"). A small model that calls a booking
    reference "a new AI-powered chatbot" uses words no passage has."""
    from .text import terms

    body = MARKER.sub(" ", answer)
    known = {t[:5] for t in terms(context) | terms(question)}
    return [
        t
        for t in sorted(terms(body))
        if t[:5] not in known and not any(c.isdigit() for c in t) and t not in _PLAIN
    ]  # numbers are unsupported()'s job: "£180" is "GBP 180.00" in the mail


# words any answer may use without a source ("the answer is", "is due on", "she said")
_PLAIN = set(
    """answer also just now then said says say told asked will would going next last first second
one two three each every per day week month year time today tomorrow yesterday morning afternoon evening
not no yes sure well like still yet only soon ago due""".split()
)


def too_foreign(answer: str, context: str, question: str, share: float = 0.34) -> list[str]:
    """The foreign words when more than ``share`` of the answer's content words are foreign (at
    least two of them); empty when the answer keeps to its sources' vocabulary."""
    from .text import terms

    words = [t for t in terms(MARKER.sub(" ", answer)) if not any(c.isdigit() for c in t)]
    foreign = foreign_words(answer, context, question)
    return foreign if len(foreign) >= 2 and len(foreign) > share * max(1, len(words)) else []


def entities(answer: str, question: str) -> list[str]:
    """The entities in ``answer`` of the type ``question`` asks for ("£180" for "how much")."""
    from . import answer_types

    kind = answer_types.wanted(question)
    if kind not in answer_types.TYPED:
        return []
    spans = answer_types.find(answer, kind) or (
        answer_types.find(answer, "time") if kind == "date" else []
    )
    return [answer[a:b] for a, b in spans]


def small_model_problem(
    so_far: str,
    new: str,
    question: str,
    sources: Sequence[Source],
    context: str,
    *,
    final: bool,
    direct_span: Callable[[], str],
) -> str | None:
    """Why a small model's next sentence ``new`` (its answer so far: ``so_far``) may not be shown
    ("" when it may; None: wait for more text). Every sentence: its numbers, dates and day names
    are in the context, and its words mostly are. The first release also: the entity the
    question asks for is in the passage it cites next to the question's words, and it is what
    the direct answer found (``direct_span()``, computed only when needed) — the model may phrase
    the answer, not replace it."""
    if so_far.strip().lower().startswith(("i don't know", "i do not know")):
        return ""
    shown = so_far.strip()[:120]
    missing = unsupported(new, context)
    if missing:
        why = (
            "it is a question, not an answer"
            if missing == ["the answer is a question"]
            else f"{', '.join(missing[:4])} appear in none of them"
        )
        return f"the local model's answer ({shown!r}) is not backed by your documents ({why}), so the direct answer is shown"
    foreign = too_foreign(new, context, question)
    if foreign:
        return (
            f"the local model's answer ({shown!r}) says what your documents do not "
            f"({', '.join(repr(w) for w in foreign[:4])}), so the direct answer is shown"
        )
    if new != so_far:  # the typed checks gate the first release only
        return ""
    off = off_source(so_far, question, sources) or _disagrees(so_far, question, direct_span)
    if off and not final:
        return None
    if off:
        return (
            f"the local model's answer ({shown!r}) does not answer the question from your documents ({off}), "
            "so the direct answer is shown"
        )
    return ""


def _disagrees(text: str, question: str, direct_span: Callable[[], str]) -> str:
    best = direct_span()
    if not best or same(best, text) or any(same(e, best) for e in entities(text, question)):
        return ""
    return f"it disagrees with the passage that answers it ({best})"
