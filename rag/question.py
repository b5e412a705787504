"""What a question must be before anything is searched: not empty, and not longer than the
models read (a pasted mail is cut, and the answer says so)."""

from __future__ import annotations

from ingest.core.errors import EmptyQuestionError

MAX_QUESTION_CHARS = 1500  # about 300 words: more than the embedding model's 256 tokens


def checked(question: str, limit: int = MAX_QUESTION_CHARS) -> tuple[str, str]:
    """(the question to search with, a note when it was cut, else ""). Raises
    :class:`EmptyQuestionError` (a ``ValueError``) for an empty or blank question."""
    q = " ".join((question or "").split())
    if not q:
        raise EmptyQuestionError("ask a question: the question is empty")
    if len(q) <= limit:
        return q, ""
    cut = q[:limit].rsplit(" ", 1)[0]
    words = len(cut.split())
    return cut, (
        f"your question was cut to its first {words} words ({len(q):,} characters given): "
        "the models read only so much; ask about one thing at a time"
    )
