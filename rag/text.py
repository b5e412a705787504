"""Word-level text helpers shared by the compact prompt and the extractive answerer: sentence
splitting and a light stemmed bag of content words for matching a question to sentences."""

from __future__ import annotations

import re

STOPWORDS = set(
    """a an the is are was were be been am do does did what when where who whom which why how my me i
you your of to in on at for from with about and or by it its this that these those there any have has had
can could should would will shall may might tell please say said much many per""".split()
)
_SENT = re.compile(
    r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bSt\.)(?<!\bMrs\.)(?<!\bNo\.)(?<!\be\.g\.)(?<!\bi\.e\.)"
    r"(?<=[.!?])\s+|\n+"
)  # not after a title or common abbreviation


def sentence_split(text: str) -> list[str]:
    return [x.strip(" -*>\t") for x in _SENT.split(text) if x.strip(" -*>\t")]


def _stem(w: str) -> str:
    for suf in ("ing", "ed", "es", "s"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            return w[: -len(suf)]
    return w


def terms(text: str) -> set[str]:
    return {
        _stem(w)
        for w in re.findall(r"[\w'£$€]+", text.lower())
        if w not in STOPWORDS and len(w) > 1
    }
