"""Citations: find the ``[n]`` markers in an answer, mark those sources cited and put them first.

Sources are returned even when the model forgets to cite; a marker that points at no block is
dropped from the text rather than shown as a dangling reference.
"""

from __future__ import annotations

import re

from .answer import Source

MARKER = re.compile(r"\[(\d{1,2}(?:\s*,\s*\d{1,2})*)\]")


def cited_numbers(text: str) -> list[int]:
    seen: list[int] = []
    for m in MARKER.finditer(text):
        for n in m.group(1).split(","):
            v = int(n)
            if v not in seen:
                seen.append(v)
    return seen


def apply(text: str, sources: list[Source]) -> tuple[str, list[Source]]:
    """(text without dangling markers, sources with cited ones first in citation order)."""
    by_n = {s.n: s for s in sources if s.n}
    order = [n for n in cited_numbers(text) if n in by_n]

    def keep(m: re.Match[str]) -> str:
        ns = [n.strip() for n in m.group(1).split(",") if int(n) in by_n]
        return f"[{', '.join(ns)}]" if ns else ""

    text = (
        re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub(keep, text))
        if order != cited_numbers(text)
        else text
    )
    for s in sources:
        s.cited = s.n in order
    cited = [by_n[n] for n in order]
    rest = [s for s in sources if not s.cited]
    return text, cited + rest
