"""Bytes to text without ever dropping a message.

Mail declares charsets that are wrong, misspelt or unknown ("x-unknown", "iso-8859-8-i",
"unicode-1-1-utf-7"...). :func:`decode_bytes` tries the declared charset, known aliases, then
charset-normalizer's best guess, then UTF-8 with replacement characters, and says which fallback
it used so the item's metadata can record it.
"""

from __future__ import annotations

import codecs
import logging
from email.header import decode_header

logger = logging.getLogger(__name__)

_ALIASES = {
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "ks_c_5601-1987": "cp949",
    "x-sjis": "shift_jis",
    "x-euc-jp": "euc_jp",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode-2-0-utf-7": "utf-7",
    "ansi_x3.4-1968": "ascii",
    "windows-874": "cp874",
    "x-gbk": "gbk",
    "gb2312": "gb18030",  # superset: real-world "gb2312" mail often holds gbk/gb18030 bytes
    "iso-2022-jp-2": "iso2022_jp_2",
    "cp-850": "cp850",
}


def _lookup(charset: str | None) -> str | None:
    if not charset:
        return None
    cs = charset.strip().strip('"').strip("'").lower()
    cs = _ALIASES.get(cs, cs)
    try:
        return codecs.lookup(cs).name
    except (LookupError, ValueError):  # unknown, or garbage such as an embedded NUL
        return None


def decode_bytes(data: bytes, charset: str | None = None) -> tuple[str, str | None]:
    """Decode ``data``. Returns ``(text, fallback)``; ``fallback`` is None when the declared
    charset (or plain ASCII/UTF-8 when none was declared) worked, else a note like
    ``"declared x-unknown; guessed windows-1252"``."""
    name = _lookup(charset)
    if name:
        try:
            return data.decode(name), None
        except (UnicodeError, LookupError, ValueError):
            pass
    elif not charset:
        wide = utf16_order(data)  # UTF-16 without a BOM is valid UTF-8, full of NULs
        if wide:
            return data.decode(wide, errors="replace"), None
        try:
            return data.decode("utf-8"), None
        except UnicodeDecodeError:
            pass
    declared = charset or "none"
    guess = _guess(data)
    if guess:
        try:
            return data.decode(guess), f"declared {declared}; guessed {guess}"
        except (UnicodeError, LookupError, ValueError):
            pass
    return data.decode("utf-8", errors="replace"), f"declared {declared}; utf-8 with replacement"


def utf16_order(data: bytes, sample: int = 4096) -> str | None:
    """ "utf-16" (a BOM), "utf-16-le" or "utf-16-be" when ``data`` looks like UTF-16 text (a
    NUL byte at most odd or most even positions: Latin text in two-byte units), else None."""
    head = data[:sample]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    pairs = len(head) // 2
    if pairs < 8:
        return None
    even = head[0 : 2 * pairs : 2].count(0)
    odd = head[1 : 2 * pairs : 2].count(0)
    if odd > 0.4 * pairs and even < 0.05 * pairs:
        return "utf-16-le"
    if even > 0.4 * pairs and odd < 0.05 * pairs:
        return "utf-16-be"
    return None


def _guess(data: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
        return best.encoding if best else None
    except Exception:  # the guesser must never sink a message
        return None


def decode_header_value(value: object) -> tuple[str, str | None]:
    """An RFC 2047 header (``=?utf-8?q?...?=``) to text, with the same fallbacks as bodies."""
    if value is None:
        return "", None
    raw = str(value)
    fallback: str | None = None
    try:
        parts = decode_header(raw)
    except Exception:
        return " ".join(raw.split()), None
    out: list[str] = []
    for chunk, cs in parts:
        if isinstance(chunk, str):
            out.append(chunk)
            continue
        text, fb = decode_bytes(chunk, cs)
        fallback = fallback or fb
        out.append(text)
    # decode_header drops whitespace between an encoded word and plain text inconsistently
    joined = ""
    for i, piece in enumerate(out):
        if (
            i
            and not joined.endswith((" ", "\t"))
            and not piece.startswith((" ", "\t"))
            and parts[i][1] is None
            and parts[i - 1][1] is None
        ):
            joined += " "
        joined += piece
    return " ".join(joined.replace("\r", " ").replace("\n", " ").split()), fallback


def mostly_text(text: str, sample: int = 8192, most: float = 0.95) -> bool:
    """Is ``text`` (decoded) text rather than binary: at most 1 - ``most`` of a sample are
    control characters other than whitespace? (Text in a mislabelled charset decodes to odd
    letters, not to control characters; random bytes give about 10% of them.)"""
    part = text[:sample]
    if not part.strip():
        return True  # empty is empty, not binary
    bad = sum(1 for ch in part if (ord(ch) < 32 and ch not in "\t\n\r\f\v\x1b") or ch == "\x7f")
    return bad <= (1 - most) * len(part)


_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\f\v\x1b") + b"\x7f"


def looks_binary(data: bytes, sample: int = 8192) -> bool:
    """Bytes that are not text in any charset: NUL bytes (outside UTF-16 text), or more than
    1 in 20 control bytes. 8-bit bytes are not counted (Latin-1, EUC-KR, UTF-8 text has many)."""
    head = data[:sample]
    if not head:
        return False
    wide = utf16_order(head)
    if wide:  # two-byte text: judge the decoded characters
        return not mostly_text(head.decode(wide, errors="replace"), sample)
    if b"\x00" in head:
        return True
    controls = len(head) - len(head.translate(None, _CONTROL))
    return controls > 0.05 * len(head)
