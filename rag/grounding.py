"""A cheap check that an answer's hard facts come from its sources.

Numbers, times, amounts, weekday and month names in the answer must appear in the context the
model was given; an answer that is a question is not an answer. Tiny CPU models invent dates
and sums ("the invoice is £1,450"); when this check fails pdq shows the best passages instead
(the extractive answer) and says so. For large models it only adds a warning.
"""

from __future__ import annotations

import re

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")
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
    body = re.sub(r"\[\d{1,2}(?:\s*,\s*\d{1,2})*\]", " ", answer)  # citation markers are not facts
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


_KIND_WORDS = {"email": "email address", "phone": "phone number", "money": "amount", "time": "time", "date": "date",
               "code": "number or code", "count": "number"}
