"""What a question asks for, read with rules (no model): a time range, the kinds of item it
favours, a sender, and whether it wants a listing from metadata (a schedule, the open to-dos)
or the current state of a thread.

    >>> plan = analyze("What did Anna say about the budget last week?", now, senders)
    >>> plan.filters.describe()
    {'dates': '2026-03-02 to 2026-03-08', 'from': 'Anna Lee'}
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from .dates import find_time_range, strip_phrase
from .filters import Filters

CALENDAR_WORDS = re.compile(
    r"\b(meeting|meetings|schedule[sd]?|calendar|appointments?|agenda|events?|"
    r"diary|booked|busy|free|plans?)\b",
    re.I,
)
SCHEDULE_ASK = re.compile(
    r"\b(what'?s on|what is on|on my (calendar|schedule|agenda|diary)|my (calendar|schedule|"
    r"agenda|diary)|what do i have|what have i got|am i (busy|free)|any (plans|meetings|events)|"
    r"what'?s (happening|planned|coming up)|what is (happening|planned|coming up)|"
    r"(list|show) (my )?(events|meetings|appointments))\b",
    re.I,
)
TODO_WORDS = re.compile(
    r"\b(to-?dos?|to do list|to-do list|tasks?|open items|action items|checklist|"
    r"need to do|have to do|still (need|have) to)\b",
    re.I,
)
TODO_OPEN = re.compile(
    r"\b(open|still|left|outstanding|pending|unfinished|remaining|not done|need to do|"
    r"have to do|on my to-?do|to-?do list|what are my|which|list|show)\b",
    re.I,
)
SENDER_PATTERNS = [
    re.compile(r"\bfrom ([A-Z][\w'.-]+(?: [A-Z][\w'.-]+)?)"),
    re.compile(
        r"\b(?:did|has|have|had) ([A-Z][\w'.-]+) (?:say|said|write|wrote|send|sent|mention|ask|tell|reply|suggest|want|propose)"
    ),
    re.compile(
        r"\b([A-Z][\w'.-]+) (?:said|says|wrote|writes|sent|mentioned|asked|told|replied|suggested|proposed|wants)\b"
    ),
    re.compile(
        r"\b([A-Z][\w'.-]+)'s (?:e-?mails?|mails?|messages?|reply|note|last (?:e-?mail|message))"
    ),
]
# "what did I send to Anna?", "mail I sent to Anna Lee", "emails to Ben about the offsite"
RECIPIENT_PATTERNS = [
    re.compile(
        r"\b(?:send|sent|wrote|write|written|emailed|e-?mails?|mails?|forwarded|replied|messages?)"
        r"\b(?:\s+\w+){0,3}?\s+to ([A-Z][\w'.-]+(?: [A-Z][\w'.-]+)?)"
    ),
]
# A time phrase scopes *when the item happened* ("mail from last week", "what did Anna say
# yesterday", "meetings in March") when the question is about mail or the calendar, or the phrase
# is relative to today; a full date with a year, or a span like "in 10 days", inside a question
# about something else names *content* ("what launched on 3 May 2019?", "tickets sold in 10 days").
MAIL_SCOPE = re.compile(
    r"\b(e-?mails?|mails?|messages?|inbox|newsletters?|wrote|written|sent|received|"
    r"replied|reply|said|say|says|told|mentioned|heard)\b",
    re.I,
)
RELATIVE_TIME = re.compile(
    r"\b(today|tonight|tomorrow|yesterday|this|next|last|past|coming|ago|since|"
    r"recently|lately|upcoming|weekend)\b",
    re.I,
)
DURATION = re.compile(r"^(?:in|for|within)\s+\S+\s+(?:days?|weeks?|months?)$", re.I)
BOUND = re.compile(
    r"^(?:since|before|after|until|till|by|between|from)\b", re.I
)  # "after 19 March"
YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
NOT_NAMES = {
    "i",
    "me",
    "my",
    "you",
    "we",
    "they",
    "he",
    "she",
    "it",
    "the",
    "a",
    "what",
    "when",
    "who",
    "which",
    "how",
    "where",
    "why",
    "did",
    "is",
    "are",
    "was",
    "mum",
    "dad",
    "sam",
}
GENERAL_WORDS = set(
    """what whats what's is are am on my the a an any do i have got there events event meetings meeting
calendar schedule agenda diary happening planned coming up for in at of list show me tell about busy free plans plan
anything things something which to-do to-dos todo todos to do list tasks task open items still left outstanding
pending unfinished remaining not done need have to on how many please my our week weekend day today tomorrow
""".split()
)


@dataclass
class Plan:
    """The reading of one question."""

    question: str
    search_text: str
    filters: Filters
    favour_kinds: tuple[str, ...] = ()
    listing: str = ""  # "", "schedule" or "todos"
    time_role: str = (
        ""  # "scope" | "content": what a time phrase of the question is (see time_role)
    )


class SenderDirectory:
    """Names and addresses as stored, so "Anna" in a question finds anna.lee@northwind.example."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.by_token: dict[str, set[str]] = defaultdict(set)
        self.names: dict[str, str] = {}
        for name, addr in pairs:
            if not addr:
                continue
            addr = addr.lower()
            self.names.setdefault(addr, name or addr)
            for tok in re.findall(r"[\w'-]+", f"{name} {addr.split('@')[0]}".lower()):
                if len(tok) > 1:
                    self.by_token[tok].add(addr)
            self.by_token[addr].add(addr)

    def resolve(self, who: str) -> tuple[str, ...]:
        """Addresses for a name, first name, surname or address (all words must match)."""
        toks = [t for t in re.findall(r"[\w'@.-]+", who.lower()) if t]
        if not toks:
            return ()
        found: set[str] | None = None
        for t in toks:
            hits = self.by_token.get(t, set())
            found = hits if found is None else found & hits
        return tuple(sorted(found or ()))

    def label(self, addrs: Iterable[str]) -> str:
        return ", ".join(sorted({self.names.get(a, a) for a in addrs}))


def _content_words(text: str) -> list[str]:
    return [
        w
        for w in re.findall(r"[\w'-]+", text.lower())
        if w not in GENERAL_WORDS and not w.isdigit()
    ]


def time_role(question: str, phrase: str) -> str:
    """Does the question's time phrase say when the item happened ("scope") or is the date part
    of what it asks about ("content")? Retrieval filters on a scope and searches the text for
    content; in both cases it also runs the other way and fuses, so a wrong guess costs rank,
    never the answer."""
    if (
        CALENDAR_WORDS.search(question)
        or SCHEDULE_ASK.search(question)
        or BOUND.match(phrase.strip())
    ):
        return "scope"
    if DURATION.match(phrase.strip()):
        return "content"
    if YEAR.search(phrase):  # a full date: scope only right after "mail sent", "emails from"...
        at = question.lower().find(phrase.lower())
        before = " ".join(question[:at].split()[-2:]) if at >= 0 else ""
        return "scope" if MAIL_SCOPE.search(before) else "content"
    if RELATIVE_TIME.search(phrase) or MAIL_SCOPE.search(question):
        return "scope"
    return "content"


def _recipients_from(question: str, senders: SenderDirectory, filters: Filters) -> Filters:
    """ "what did I send to Anna?": the addresses known for the name, and the name as written
    in To/Cc (soft: relaxed when nothing matches)."""
    for pat in RECIPIENT_PATTERNS:
        m = pat.search(question)
        if not m or m.group(1).lower() in NOT_NAMES:
            continue
        who = m.group(1)
        addrs = senders.resolve(who)
        if addrs:
            return filters.with_(
                recipients=tuple(sorted({*addrs, who.lower()})), recipient_from_question=True
            )
    return filters


def analyze(
    question: str,
    now: datetime,
    senders: SenderDirectory | None = None,
    base: Filters | None = None,
) -> Plan:
    """Read ``question`` at ``now``. ``base`` filters (from the caller) win over what the question
    implies: a date range given explicitly is not replaced by one found in the text."""
    base = base or Filters()
    filters = base
    tr = find_time_range(question, now)
    search = strip_phrase(question, tr) if tr else question
    if tr is not None and base.time is None:
        filters = filters.with_(time=tr, time_from_question=True)

    favour: list[str] = []
    if CALENDAR_WORDS.search(question):
        favour.append("event")
    if TODO_WORDS.search(question):
        favour.append("todo")

    if senders is not None and not base.senders:
        for pat in SENDER_PATTERNS:
            m = pat.search(question)
            if not m or m.group(1).lower() in NOT_NAMES:
                continue
            addrs = senders.resolve(m.group(1))
            if addrs:
                filters = filters.with_(
                    senders=addrs, sender_label=senders.label(addrs), sender_from_question=True
                )
                break

    if senders is not None and not base.recipients:
        filters = _recipients_from(question, senders, filters)

    listing = ""
    leftover = _content_words(search)
    if (
        filters.time is not None
        and SCHEDULE_ASK.search(question)
        and len(leftover) <= 1
        and not filters.senders
    ):
        listing = "schedule"
    elif TODO_WORDS.search(question) and TODO_OPEN.search(question) and len(leftover) <= 1:
        listing = "todos"
    if listing == "schedule" and not base.kinds:
        filters = filters.with_(kinds=("event",))
    if listing == "todos":
        filters = filters.with_(kinds=base.kinds or ("todo",), open_todos=True)
    role = time_role(question, tr.phrase) if tr is not None and filters.time_from_question else ""
    return Plan(
        question=question,
        search_text=search or question,
        filters=filters,
        favour_kinds=tuple(favour),
        listing=listing,
        time_role=role,
    )
