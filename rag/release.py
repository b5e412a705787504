"""Releasing a model's answer to the reader: as generated (a capable model), or sentence by
sentence once each sentence passes its check (a small model, :func:`grounding.small_model_problem`).
Both return why they stopped ("" when the whole answer was shown)."""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator

Check = Callable[..., "str | None"]  # (so_far, new, *, final) -> "" show / reason / None wait


def as_generated(
    raw: Iterator[str], released: list[str], shown: Callable[[], None]
) -> Generator[str, None, str]:
    """A capable model's tokens, shown as they come (checked afterwards, with a warning)."""
    for piece in raw:
        if not released:
            shown()
        released.append(piece)
        yield piece
    return ""


def checked(
    raw: Iterator[str], released: list[str], check: Check, shown: Callable[[], None]
) -> Generator[str, None, str]:
    """A small model's answer, released sentence by sentence once each is checked; the first
    release waits until the answer's subject has come (``check`` returns None)."""
    pending = ""
    for piece in raw:
        pending += piece
        cut = last_sentence_end(pending)
        if cut <= 0:
            continue
        why = check("".join(released) + pending[:cut], pending[:cut], final=False)
        if why is None:
            continue  # the answer's subject has not come yet: wait for more
        if why:
            return why
        if not released:
            shown()
        released.append(pending[:cut])
        yield pending[:cut]
        pending = pending[cut:]
    if pending.strip() or not released:
        why = check("".join(released) + pending, pending, final=True)
        if why:
            return why
        if not released:
            shown()
        released.append(pending)
        yield pending
    return ""


def last_sentence_end(text: str) -> int:
    """Where the last complete sentence of ``text`` ends (0: none yet)."""
    ends = [m.end() for m in re.finditer(r"[.!?](?:\s*\[\d{1,2}\])?(?=\s)|\n", text)]
    return ends[-1] if ends else 0
