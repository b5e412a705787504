"""Follow-up questions → standalone questions, before retrieval.

"When is my dentist appointment?" then "Where is it?" must search for the dentist. A question
that leans on the conversation (pronouns, "what about…", "and…", very few content words) is
joined with the previous standalone question; one that stands on its own is left alone. The
current question comes first, so its own time expression wins ("what about tomorrow?").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

LEANS = re.compile(
    r"^\s*(and|also|but|so|then|what about|how about|and what about|same for|ok|okay)\b"
    r"|\b(it|its|it's|that|this|those|these|there|they|them|their|he|him|his|she|her|hers|the same|one|ones)\b",
    re.IGNORECASE,
)
FILLER = set(
    """what when where who which why how is are was were do does did the a an of to in on at for my me i
you it its this that there they them he she him her and also about then so ok okay please can could would""".split()
)


def needs_context(question: str) -> bool:
    content = [w for w in re.findall(r"[\w'-]+", question.lower()) if w not in FILLER]
    return bool(LEANS.search(question)) or len(content) < 2


def standalone(question: str, history: Sequence[tuple[str, str]]) -> str:
    """``history``: earlier (question, answer) turns, oldest first; questions already standalone."""
    if not history or not needs_context(question):
        return question
    prev = history[-1][0].strip().rstrip("?")
    return f"{question.strip().rstrip('?')} ({prev})?"
