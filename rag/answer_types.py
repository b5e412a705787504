"""What kind of thing a question asks for, and where such things occur in a text.

``wanted("What is the phone number of the PEP Help Desk?")`` is ``"phone"``; :func:`find` then
lists the phone numbers in a passage. Used to decide that the store holds no answer (a question
that wants a phone number, an amount or a date, when no retrieved passage has one next to the
question's subject) and to check and pick answers.

Entities come from maintained parsers where one exists: phone numbers from ``phonenumbers``
(Google's libphonenumber); dates and times from the same expressions :mod:`rag.dates` reads in
questions; amounts, addresses and codes from a one-line pattern each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .dates import _DATE, _MON, _WD

# question → type, first match wins (order matters: "phone number" before "number")
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "email",
        re.compile(
            r"\b(e-?mail address|email|e-mail)\b.*\b(address|of)\b|\baddress of\b.*\be-?mail\b",
            re.I,
        ),
    ),
    (
        "phone",
        re.compile(
            r"\b(phone|telephone|mobile|cell|fax)( number)?\b|\bnumber to (call|ring|dial)\b", re.I
        ),
    ),
    (
        "money",
        re.compile(
            r"\bhow much\b(?!\s+(?:notice|time|longer|leave|holiday|data|space|storage|weight|"
            r"memory|experience|detail|work|effort|of)\b)|\b(cost|costs|price|prices|charge[sd]?|fee|fees|paid|pay|spend|spent|"
            r"balance|rent|deposit|amount|total|owe)\b",
            re.I,
        ),
    ),
    ("time", re.compile(r"\bwhat time\b|\bat what time\b", re.I)),
    (
        "date",
        re.compile(
            r"^\s*when\b|\bwhat (day|date)\b|\bwhich (day|date)\b|\bdue\b|\bhow long ago\b", re.I
        ),
    ),
    (
        "code",
        re.compile(
            r"\b(number|reference|ref|code|id|password|pin|registration|booking)\b(?!\s+(?:of|manager))",
            re.I,
        ),
    ),
    (
        "place",
        re.compile(r"^\s*where\b|\bwhich (hotel|venue|room|office|restaurant|address)\b", re.I),
    ),
    ("person", re.compile(r"^\s*(who|whom)\b", re.I)),
    ("count", re.compile(r"\bhow many\b", re.I)),
)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MONEY = re.compile(
    r"(?:[£$€]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|m|bn))?|\b\d[\d,]*(?:\.\d+)?\s?(?:GBP|USD|EUR|pounds?|"
    r"dollars?|euros?|p\b|pence)|\b(?:GBP|USD|EUR)\s?\d[\d,]*(?:\.\d+)?)",
    re.I,
)
_TIME = re.compile(
    r"\b(?:[01]?\d|2[0-3])[:.][0-5]\d\b(?:\s?[ap]\.?m\.?)?|\b(?:1[0-2]|0?[1-9])\s?[ap]\.?m\.?(?!\w)|\bnoon\b|"
    r"\bmidnight\b",
    re.I,
)
_DAYS = re.compile(
    rf"\b(?:{_DATE}|{_WD}|{_MON}\s+\d{{4}}|today|tomorrow|tonight|yesterday|next week|this week|"
    r"january|february|march|april|june|july|august|september|october|november|december)\b",
    re.I,
)
_CODE = re.compile(r"\b(?=[\w/-]*\d)[A-Z0-9][\w/-]{2,}\b")
_PLACE = re.compile(
    r"(?:\b(?:at|in|venue:?|where:?|location:?|address:?)\s+)((?:the\s+)?[A-Z0-9][\w'’.&-]*(?:\s+(?:on|of|de|la|&|the)?\s*"
    r"[A-Z0-9][\w'’.&-]*){0,5})"
)
_COUNT = re.compile(
    r"\b\d[\d,]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen)\b",
    re.I,
)

TYPED = ("email", "phone", "money", "time", "date", "code", "count")  # checkable in text


def wanted(question: str) -> str:
    """The answer type a question asks for; "text" when none of the rules applies."""
    for name, rule in _RULES:
        if rule.search(question):
            return name
    if re.match(
        r"^\s*(is|are|was|were|do|does|did|can|could|will|should|has|have)\b", question, re.I
    ):
        return "yesno"
    return "text"


def _phones(text: str, regions: Iterable[str]) -> list[tuple[int, int]]:
    import phonenumbers

    spans: list[tuple[int, int]] = []
    for region in regions:
        for m in phonenumbers.PhoneNumberMatcher(
            text, region, leniency=phonenumbers.Leniency.VALID
        ):
            if not any(a <= m.start < b for a, b in spans):
                spans.append((m.start, m.end))
    return spans


def find(text: str, kind: str, regions: Iterable[str] = ("US", "GB")) -> list[tuple[int, int]]:
    """(start, end) of every entity of ``kind`` in ``text`` (empty for untyped kinds)."""
    if kind == "phone":
        return _phones(text, regions)
    pattern = {"email": _EMAIL, "money": _MONEY, "time": _TIME, "code": _CODE, "count": _COUNT}.get(
        kind
    )
    if kind == "place":
        return [m.span(1) for m in _PLACE.finditer(text)]
    if kind == "date":
        return [m.span() for m in _DAYS.finditer(text)] + [m.span() for m in _TIME.finditer(text)]
    if pattern is None:
        return []
    spans = [m.span() for m in pattern.finditer(text)]
    if kind == "code":  # a date, a time, an amount or a phone number is not a reference number
        taken = (
            find(text, "date")
            + find(text, "money")
            + _phones(text, regions)
            + [
                m.span()
                for m in re.finditer(r"\d[\d,.]*\d", text)
                if "," in m.group() or "." in m.group()
            ]
        )
        spans = [(a, b) for a, b in spans if not any(x <= a < y or a <= x < b for x, y in taken)]
    return spans
