"""Stream the messages out of an mbox file, with their byte offsets.

Reads line by line and never holds more than one message in memory, so a multi-GB mbox costs
constant memory. A message starts at a ``From `` line at the top of the file or after a blank
line (mboxo/mboxrd); ``>From `` escapes in bodies are left as they are. Each message is yielded
with its offset, which is its key inside the mbox (``path#offset``) and lets a re-sync read only
what was appended since the last run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # a "message" bigger than this is a broken mbox


def iter_mbox(path: Path, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, raw_message_bytes)`` for each message starting at or after ``start``.
    ``start`` must be the offset of a ``From `` line (or 0)."""
    with path.open("rb") as f:
        f.seek(start)
        offset = start
        pos = start
        buf: list[bytes] = []
        size = 0
        prev_blank = True
        in_message = False
        for line in f:
            if line.startswith(b"From ") and prev_blank:
                if in_message:
                    yield offset, _strip_trailing_blank(b"".join(buf))
                offset = pos
                buf = []
                size = 0
                in_message = True
            elif in_message:
                if size < MAX_MESSAGE_BYTES:
                    buf.append(line)
                    size += len(line)
            pos += len(line)
            prev_blank = line in (b"\n", b"\r\n")
        if in_message:
            yield offset, _strip_trailing_blank(b"".join(buf))


def _strip_trailing_blank(raw: bytes) -> bytes:
    # the separator blank line before the next "From " belongs to the mbox, not the message
    if raw.endswith(b"\r\n\r\n"):
        return raw[:-2]
    if raw.endswith(b"\n\n"):
        return raw[:-1]
    return raw
