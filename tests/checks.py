"""What a test may assert about a real language model's answer, on any machine.

A tiny model's greedy wording differs between engines and CPUs (llama.cpp is built for the
machine it is built on; float kernels differ), so tests never demand one word from it. They
check what pdq guarantees instead: the answer came from the model named, it was given the right
sources, and its hard facts are in those sources — or pdq said they are not (a capable model's
answer gets a warning) or showed its direct answer instead (a small model's), in which case the
direct answer is deterministic and may be checked for the fact.
"""

from __future__ import annotations

from datetime import datetime

from rag import grounding
from rag.answer import Answer


def prompt_sources(ans: Answer) -> list:
    """The sources the model was given (numbered in the prompt)."""
    return [s for s in ans.sources if s.n]


def assert_grounded_or_flagged(ans: Answer, now: datetime, direct_fact: str | None = None) -> None:
    """The answer's numbers, dates and day names are in its prompt's sources, or pdq flagged it."""
    assert ans.text.strip(), "empty answer"
    if ans.backend_fallback:  # a small model's answer was rejected: the direct answer is shown
        assert any("the direct answer is shown" in w for w in ans.warnings), ans.warnings
        if direct_fact is not None:
            assert direct_fact in ans.text, ans.text
        return
    # the model saw each block's header and text, and today's date in its instructions
    context = "\n".join(f"{s.header()}\n{s.text}" for s in prompt_sources(ans))
    context += "\n" + now.strftime("%A %d %B %Y, %H:%M")
    missing = grounding.unsupported(ans.text, context)
    flagged = any("check this answer" in w for w in ans.warnings)
    assert not missing or flagged, (ans.text, missing, ans.warnings)
