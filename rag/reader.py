"""Direct answers without a language model: the "extractive" backend.

From the question pdq decides what kind of answer it wants (:func:`rag.answer_types.wanted`: a
date, an amount, a phone number, a person...). It then reads the sentences of the top sources,
drops what is never an answer (reply headers, quoted lines, forwarded-header lines, bare URLs,
mailing-list footers, sign-offs and signatures — a signature stays only as evidence for a phone
number or an email address), and scores each sentence by

- its semantic similarity to the question (the embedding model pdq already has loaded),
- how much of the question's rarer words it holds,
- whether it holds an entity of the wanted type, close to the question's words,
- the rank of its source.

The answer is the wanted entity (the *span*) with the sentence it came from and a citation:
``£180 — “Total due: GBP 180.00” (GreenFix Plumbing, 06 Mar 2026) [1]``; the span is listed in
:attr:`Direct.highlights` so the page, the terminal and notebooks can mark it. An event answers
from its metadata in full (title, when, where, organiser), a to-do with its due date and state.
Mail headers are candidates too: "What is the email address of Jeff?" is answered from a From,
To or Cc line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from . import answer_types
from .answer import Source
from .text import sentence_split, terms

Embed = Callable[[list[str]], list[list[float]]]

# lines that are never an answer
_REPLY_HEADER = re.compile(
    r"^\s*(on\b.{0,160}\bwrote:?|-{2,}\s*(original message|forwarded by|forwarded message).*|"
    r"begin forwarded message:?)\s*$",
    re.I,
)
_HEADER_LINE = re.compile(r"^\s*(from|sent|to|cc|bcc|subject|date|reply-to)\s*:", re.I)
_FOOTER = re.compile(
    r"unsubscribe|mailing list|listinfo|list-id|you are receiving this|to be removed from|opt[ -]?out|"
    r"manage your subscription|^[_=*~-]{5,}$",
    re.I,
)
_QUOTED_EXCERPT = re.compile(
    r"^\(In reply to:", re.I
)  # ingest.sources.mail's one-line summary of the quoted mail
_URL_ONLY = re.compile(r"^\s*<?(https?://|www\.)\S+>?\s*$", re.I)
_SIGN_OFF = re.compile(
    r"^\s*(thanks|thank you|many thanks|regards|best|best wishes|kind regards|best regards|cheers|love|"
    r"sincerely|yours sincerely|yours|take care|all the best|warm regards|talk soon)\b[\w\s,.!]{0,25}$",
    re.I,
)
_SIG_DELIM = re.compile(r"^--\s*$")
_LONG = 260
_WRAP = 45  # a mail line this long that ends mid-sentence was wrapped: the next line continues it
LIMIT = 5  # sources read
MIN_SIM = 0.3  # a best sentence sharing no word with the question and less similar: "I don't know"  # a "sentence" longer than this (a PDF line, a table) is cut into clauses

_NAME = re.compile(
    r"\b(?:(?:Dr|Mr|Mrs|Ms|Prof)\.?\s+[A-Z][a-z'’-]+|[A-Z][a-z]+(?:[ -](?:[A-Z]\.|[A-Z][a-z]+|van|de|von))*[ -][A-Z][a-z'’]+)\b"
)
_ABOUT_HEADERS = re.compile(
    r"\b(sent|send|wrote|write|emailed|mailed|forwarded|received|receive|cc'?d|copied|"
    r"addressed|from|to|recipients?|sender)\b",
    re.I,
)
_NOW_CUES = re.compile(
    r"\b(still|now|currently|any ?more|yet|latest|so far|these days|at the moment)\b", re.I
)
_FIRST_CUES = re.compile(r"\b(first|earliest|original(ly)?|initial(ly)?|at first)\b", re.I)
_TASK_CUES = re.compile(
    r"\b(to-?dos?|tasks?|remind(?:er)?|need to|have to|must|should i|supposed to|my list)\b", re.I
)
EMBED_AT_MOST = 12  # candidates compared by meaning (the rest ranked by words only)
_TOTAL = re.compile(
    r"\b(total|amount due|balance|due|premium|grand total|to pay|charged?|cost)\b", re.I
)


@dataclass
class Sentence:
    text: str
    source: Source
    rank: int  # the source's place among the sources read (0 = best)
    signature: bool = False  # from a signature block (evidence for phone/email only)
    header: bool = False  # a From/To/Cc line built from the mail's headers
    meta: bool = False  # an event's or to-do's metadata in one line (answered in full)


@dataclass
class Pick:
    sentence: Sentence
    score: float
    span: str = ""
    cover: float = 0.0  # share of the question's (idf-weighted) words in the sentence
    sim: float = 0.0  # cosine similarity to the question


@dataclass
class Direct:
    """A direct answer: its lines (each ending with a citation) and the spans to highlight."""

    lines: list[str] = field(default_factory=list)
    highlights: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


# --- reading a source into candidate sentences ---------------------------------------------------
def _clauses(sentence: str) -> list[str]:
    """A long line (a PDF table row, a run-on paragraph) as overlapping windows of 16 words, so
    "Total due: GBP 180.00" is a candidate of its own."""
    if len(sentence) <= _LONG:
        return [sentence]
    words = sentence.split()
    return [" ".join(words[i : i + 16]) for i in range(0, max(1, len(words) - 8), 8)]


def _body_lines(body: str) -> list[tuple[str, bool]]:
    """(line, in_signature) for the lines of a body worth reading, hard-wrapped mail lines joined
    back into their paragraph."""
    kept: list[tuple[str, bool] | None] = []  # None: a paragraph break
    sig = False
    lines = body.splitlines()
    for i, line in enumerate(lines):
        s = line.strip()
        if not s:
            kept.append(None)
            continue
        if _SIG_DELIM.match(s):
            sig = True
            kept.append(None)
            continue
        if _REPLY_HEADER.match(s):
            sig = False  # a quoted or forwarded message starts: its text is text again
            kept.append(None)
            continue
        if (
            s.startswith(">")
            or _QUOTED_EXCERPT.match(s)
            or _HEADER_LINE.match(s)
            or _URL_ONLY.match(s)
            or _FOOTER.search(s)
        ):
            kept.append(None)
            continue
        if _SIGN_OFF.match(s):
            sig = _signature_follows(lines[i + 1 :])
            kept.append(None)
            continue
        kept.append((s, sig))
    out: list[tuple[str, bool]] = []
    joinable = False
    for item in kept:
        if item is None:
            joinable = False
            continue
        if joinable and out and len(out[-1][0].rsplit("\n", 1)[-1]) >= _WRAP:
            out[-1] = (f"{out[-1][0]}\n{item[0]}", out[-1][1])
        else:
            out.append(item)
        joinable = not re.search(r"[.!?:]$", item[0])
    return [(x.replace("\n", " "), sig) for x, sig in out]


def _signature_follows(lines: list[str]) -> bool:
    """After a sign-off: a few short lines (name, title, phone) up to a blank line or "--"."""
    block: list[str] = []
    for x in lines:
        if not x.strip() or _SIG_DELIM.match(x.strip()):
            if block:
                break
            continue
        block.append(x.strip())
    return 0 < len(block) <= 6 and all(len(x) < 60 for x in block)


def read(source: Source, rank: int) -> list[Sentence]:
    """The candidate sentences of one source."""
    out: list[Sentence] = []
    if source.kind == "event":
        out.append(
            Sentence(
                f"{source.title}: {source.when()}"
                + (f", at {source.location}" if source.location else ""),
                source,
                rank,
                meta=True,
            )
        )
    elif source.kind == "todo":
        out.append(Sentence(todo_line(source)[0].rsplit(" [", 1)[0], source, rank, meta=True))
    for line, sig in _body_lines(source.body):
        for sent in sentence_split(line):
            for c in _clauses(sent):
                if len(c) >= 8 and re.search(r"[A-Za-z]{2}", c) and not _SIGN_OFF.match(c):
                    out.append(Sentence(c, source, rank, signature=sig))
    if source.kind == "email":
        for key, label in (("from", "From"), ("to", "To"), ("cc", "Cc")):
            v = str(source.meta.get(key) or "").strip()
            if v:
                out.append(Sentence(f"{label}: {v}", source, rank, header=True))
    return out


# --- choosing ---------------------------------------------------------------------------------------
def _keys(text: str) -> set[str]:
    """Content words by their first five letters: "plumber" meets "Plumbing", "month" "monthly"."""
    return {t[:5] for t in terms(text)}


_WHEN_WORDS = {
    w[:5]
    for w in (
        "last",
        "next",
        "this",
        "week",
        "weekend",
        "month",
        "year",
        "today",
        "tomorrow",
        "yesterday",
        "ago",
        "recent",
        "recently",
    )
}


def _question_keys(question: str) -> set[str]:
    """The question's words that say what it is about ("last week" scopes it; it is not the subject)."""
    return _keys(question) - _WHEN_WORDS


def _idf(sentences: Sequence[Sentence]) -> dict[str, float]:
    df: dict[str, int] = {}
    for s in sentences:
        for t in _keys(s.text):
            df[t] = df.get(t, 0) + 1
    n = max(1, len(sentences))
    return {t: math.log(1 + n / c) for t, c in df.items()}


def _coverage(q: set[str], sent: str, idf: dict[str, float], context: str = "") -> float:
    """The idf-weighted share of the question's words in ``sent``; words found only in the
    sentence's ``context`` (its message's subject and sender) count half."""
    if not q:
        return 0.0
    rare = math.log(1 + len(idf) + 1)
    weights = {t: idf.get(t, rare) for t in q}
    own, ctx = _keys(sent), _keys(context)
    got = sum(w if t in own else 0.5 * w if t in ctx else 0.0 for t, w in weights.items())
    return got / (sum(weights.values()) or 1.0)


def _positions(text: str, q: set[str]) -> list[int]:
    return [m.start() for m in re.finditer(r"[\w'£$€]+", text) if _keys(m.group()) & q]


def _nearest(text: str, spans: list[tuple[int, int]], q: set[str], kind: str) -> tuple[str, float]:
    """The entity closest to the question's words, and a nearness in [0, 1]."""
    pos = _positions(text, q)
    best, near = "", -1.0
    for a, b in spans:
        d = min((abs(p - a) for p in pos), default=len(text))
        score = 1.0 / (1.0 + d / 40.0)
        if kind == "money" and _TOTAL.search(text[max(0, a - 40) : a]):
            score += 1.0  # "Total due: £180" over the items that add up to it
        if score > near:
            best, near = text[a:b].strip(" .,;:"), score
    return best, near


def _people(sources: Sequence[Source]) -> list[str]:
    names: list[str] = []
    for s in sources:
        for key in ("from_name", "to", "cc", "organizer", "attendees"):
            for part in re.split(r"[,;]", str(s.meta.get(key) or "")):
                name = re.sub(r"<[^>]*>|\"|mailto:\S+", "", part).strip()
                if name and "@" not in name and len(name) > 2 and name not in names:
                    names.append(name)
    return names


def _person_spans(text: str, people: list[str]) -> list[tuple[int, int]]:
    titled = [
        m.span() for m in _NAME.finditer(text) if re.match(r"(Dr|Mr|Mrs|Ms|Prof)\b", m.group())
    ]
    if titled:
        return titled
    spans = []
    low = text.lower()
    for p in people:
        i = low.find(p.lower())
        if i >= 0:
            spans.append((i, i + len(p)))
    return spans or [m.span() for m in _NAME.finditer(text)]


def _joined(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent date and time pieces as one span: "Thursday 19 March 2026 at 15:00"."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if (
            out
            and a >= out[-1][0]
            and re.fullmatch(r"[\s,]*(?:at|on|from|@|-|–)?[\s,]*", text[out[-1][1] : a])
        ):
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        elif not out or a >= out[-1][1]:
            out.append((a, b))
    return out


def _spans(sent: Sentence, kind: str, people: list[str]) -> list[tuple[int, int]]:
    if kind in ("date", "time"):
        return _joined(sent.text, answer_types.find(sent.text, "date"))
    if kind in answer_types.TYPED:
        return answer_types.find(sent.text, kind)
    if kind == "person":
        return _person_spans(sent.text, people)
    if kind == "place":  # "in March" is a time, not a place
        return [
            (a, b)
            for a, b in answer_types.find(sent.text, "place")
            if not answer_types.find(sent.text[a:b], "date") and not sent.header
        ]
    return []


def choose(
    question: str, sources: Sequence[Source], embed: Embed | None, *, limit: int = LIMIT
) -> list[Pick]:
    """The best sentence of each of the top ``limit`` sources, best first."""
    kind = answer_types.wanted(question)
    q = _question_keys(question)
    people = _people(sources)
    cands = [s for i, src in enumerate(sources[:limit]) for s in read(src, i)]
    if kind not in ("phone", "email"):
        cands = [c for c in cands if not c.signature] or cands
    if not (kind == "email" or (kind == "person" and _ABOUT_HEADERS.search(question))):
        cands = [c for c in cands if not c.header]
    if not cands:
        return []
    idf = _idf(cands)
    if len(cands) > EMBED_AT_MOST:  # long mails: only the likeliest sentences are embedded
        cands.sort(key=lambda c: -(_coverage(q, c.text, idf, c.source.title) + 0.2 / (1 + c.rank)))
        cands = cands[:EMBED_AT_MOST]
    sims = _similarities(question, [c.text for c in cands], embed)
    recency = (
        _recency(sources[:limit], newest=False)
        if _FIRST_CUES.search(question)
        else _recency(sources[:limit])
        if _NOW_CUES.search(question)
        else {}
    )
    task_penalty = 0.0 if _TASK_CUES.search(question) else 0.1
    picks: list[Pick] = []
    for c, sim in zip(cands, sims, strict=True):
        cover = _coverage(q, c.text, idf, f"{c.source.title} {c.source.sender}")
        spans = _spans(c, kind, people)
        span, near = _nearest(c.text, spans, q, kind) if spans else ("", 0.0)
        score = 0.45 * sim + 0.45 * cover + 0.15 / (1 + c.rank) + recency.get(c.source.item_id, 0.0)
        if c.source.kind == "todo":  # a to-do's due date is the task's, not the thing's it mentions
            score -= task_penalty
        if (
            kind in answer_types.TYPED
        ):  # reliable finders: an answer without the entity is no answer
            score += 0.25 + 0.2 * min(near, 1.0) + 0.25 * (near > 1.0) if span else -0.2
        elif kind in ("person", "place"):  # names and places are found less surely
            score += 0.15 + 0.1 * near if span else -0.05
        else:  # "what did Anna say about the budget?": the sentence with the figures says most
            score += min(
                0.12,
                0.04 * len(answer_types.find(c.text, "money") + answer_types.find(c.text, "date")),
            )
        picks.append(Pick(c, score, span, cover, sim))
    picks.sort(key=lambda p: -p.score)
    return picks


def _recency(sources: Sequence[Source], newest: bool = True) -> dict[str, float]:
    """ "Is it still blocked?": the newest dated source gains 0.2, the next 0.1 ("her first
    email": the oldest)."""
    dated = sorted((s for s in sources if s.date is not None), key=lambda s: s.date, reverse=newest)  # type: ignore[arg-type,return-value]
    return {s.item_id: bonus for s, bonus in zip(dated, (0.2, 0.1), strict=False)}


def _similarities(question: str, texts: list[str], embed: Embed | None) -> list[float]:
    if embed is None:
        return [0.0] * len(texts)
    vecs = embed([question, *texts])
    qv = vecs[0]
    return [sum(a * b for a, b in zip(qv, v, strict=False)) for v in vecs[1:]]


# --- answering --------------------------------------------------------------------------------------
def _lead(s: Source) -> str:
    who = s.sender or s.title
    day = s.date.strftime("%d %b %Y") if s.date is not None else ""
    return ", ".join(x for x in (who, day) if x)


def event_line(s: Source, question: str) -> tuple[str, list[str]]:
    """An event in full from its metadata: title, when, where (and who for "who" questions)."""
    when = s.when()
    bits = [when] + ([s.location] if s.location else [])
    highlights = [when] + ([s.location] if s.location else [])
    kind = answer_types.wanted(question)
    organizer = str(s.meta.get("organizer") or "")
    attendees = str(s.meta.get("attendees") or "")
    if kind == "person" and (organizer or attendees):
        who = "; ".join(
            x
            for x in (
                f"organiser {organizer}" if organizer else "",
                f"with {attendees}" if attendees else "",
            )
            if x
        )
        bits.append(who)
        highlights.append(organizer or attendees)
    rule = next((x for x in s.body.splitlines() if x.lower().startswith("repeats:")), "")
    if rule and re.search(r"\bhow often\b|\bevery\b|\brepeat", question, re.I):
        bits.append(rule[len("repeats:") :].strip())
        highlights.append(rule[len("repeats:") :].strip())
    return f"{s.title}: {', '.join(b for b in bits if b)} [{s.n}]", [h for h in highlights if h]


def todo_line(s: Source) -> tuple[str, list[str]]:
    due = s.due or s.date
    state = "done" if s.done else "open"
    due_txt = f"due {due.strftime('%a %d %b %Y')}" if due else "no due date"
    return f"To-do “{s.title}”: {due_txt}, {state} [{s.n}]", [due_txt, state]


def answers(p: Pick, kind: str) -> bool:
    """Does the best candidate answer at all? It shares enough of the question's words or meaning,
    and holds the wanted entity when the question is typed."""
    if p.cover <= 0 and p.sim < MIN_SIM:
        return False
    return bool(p.span) or p.sentence.meta or kind not in answer_types.TYPED


def answer(
    question: str, sources: Sequence[Source], embed: Embed | None = None, *, limit: int = LIMIT
) -> Direct:
    """The direct answer to ``question`` from ``sources`` (numbered already: ``s.n``); no lines
    when nothing in them answers it."""
    out = Direct()
    kind = answer_types.wanted(question)
    picks = choose(question, sources, embed, limit=limit)
    if not picks or not answers(picks[0], kind):
        return out
    best = picks[0]
    _add(out, best, question)
    if kind in ("text", "yesno") and best.sentence.source.kind not in ("event", "todo"):
        _second_sentence(out, best, picks)
    _corroborate(out, best, sources[:limit])
    # a second source only when it is about as good and says something else
    for p in picks[1:]:
        near = (
            0.65 if kind in ("text", "yesno") else 0.85
        )  # "what did Anna say": what she said in each mail
        if (
            p.sentence.source.item_id in {s.item_id for s in out.sources}
            or p.score < near * best.score
        ):
            continue
        if kind in answer_types.TYPED and (not p.span or p.span == best.span):
            break
        if answers(p, kind):
            _add(out, p, question)
        break
    return out


def _corroborate(out: Direct, best: Pick, sources: Sequence[Source]) -> None:
    """Cite the other sources that say the same: the same span ("YHA Castleton" in the event and
    in Priya's mail), or for a sentence answer, most of the same words."""
    src = best.sentence.source
    said = _keys(best.sentence.text)
    also: list[Source] = []
    for s in sources:
        if s.item_id == src.item_id or not s.n or s in out.sources:
            continue
        if (
            best.span
        ):  # a distinctive span: a number, or several words ("YHA Castleton"), not "Lyon"
            if (
                re.search(r"\d", best.span) or " " in best.span.strip()
            ) and best.span.lower() in s.text.lower():
                also.append(s)
        elif len(said) >= 4 and len(said & _keys(s.body)) >= 0.6 * len(said):
            also.append(s)
    also = also[:2]
    if also:
        marks = "".join(f"[{s.n}]" for s in also)
        out.lines[0] = f"{out.lines[0]}{marks}"
        out.sources += also


def _second_sentence(out: Direct, best: Pick, picks: list[Pick]) -> None:
    """ "What did Anna say about the budget?": one more sentence of the same message — the one
    right after the best when it shares a word with the question (mail goes on: "Finance asked us
    to cut 5%. My suggestion is to trim research to £4,500."), else one nearly as good."""
    src = best.sentence.source
    same = [
        p for p in picks[1:] if p.sentence.source.item_id == src.item_id and not p.sentence.header
    ]
    if not same:
        return
    body = src.body
    at = body.find(best.sentence.text[:40])
    after = sorted(
        (p for p in same if body.find(p.sentence.text[:40]) > at >= 0 and p.cover > 0),
        key=lambda p: body.find(p.sentence.text[:40]),
    )
    nxt = (
        after[0]
        if after and body.find(after[0].sentence.text[:40]) - at - len(best.sentence.text) < 4
        else None
    )
    other = nxt or next((p for p in same if p.score >= 0.8 * best.score), None)
    if other is None:
        return
    first, second = sorted((best, other), key=lambda p: body.find(p.sentence.text[:40]))
    lead = f" ({_lead(src)})" if _lead(src) else ""
    out.lines[-1] = f"“{first.sentence.text} … {second.sentence.text}”{lead} [{src.n}]"


def _add(out: Direct, p: Pick, question: str) -> None:
    src = p.sentence.source
    out.sources.append(src)
    if src.kind in ("event", "todo"):
        line, hl = event_line(src, question) if src.kind == "event" else todo_line(src)
        said = p.sentence.text
        if (
            src.kind == "event"
            and not p.sentence.meta
            and not re.match(r"(when|where|repeats):", said, re.I)
            and said not in line
        ):
            line = line[: -len(f" [{src.n}]")] + f". “{said}” [{src.n}]"
        out.lines.append(line)
        out.highlights += hl
        return
    out.lines.append(_line(p))
    if p.span:
        out.highlights.append(p.span)


def _line(p: Pick) -> str:
    s = p.sentence
    quote = f"“{s.text}”"
    lead = f"({_lead(s.source)}) " if _lead(s.source) else ""
    if p.span and p.span != s.text:
        return f"{p.span} — {quote} {lead}[{s.source.n}]"
    return f"{quote} {lead}[{s.source.n}]"
