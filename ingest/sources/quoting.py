"""Split an email body into what the sender wrote now and the quoted history below it.

Replies carry the whole thread again; indexing it for every reply buries the one new line under
copies. :func:`split_reply` keeps the new text (inline answers between quotes included), drops
``>`` lines, "On ... wrote:" attributions and everything under an "Original Message" or Outlook
``From:/Sent:`` header block, and returns a short excerpt of what was quoted so the message still
makes sense on its own. Forwarded messages are different: the forwarded text is usually nowhere
else in the mailbox, so it is kept (only its header lines are folded into one line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "On Tue, 3 Mar 2026 at 10:02, Anna Lee <anna@x.org> wrote:" and localised cousins; may wrap.
_ATTRIBUTION = re.compile(
    r"^\s*(on\b.{0,200}\bwrote|le\b.{0,200}\ba écrit|am\b.{0,200}\bschrieb|el\b.{0,200}\bescribió|"
    r"op\b.{0,200}\bschreef|il\b.{0,200}\bha scritto)\s*:?\s*$",
    re.I,
)
_ATTRIBUTION_START = re.compile(r"^\s*(on|le|am|el|op|il)\s+\S.*", re.I)
_ATTRIBUTION_END = re.compile(r"(wrote|a écrit|schrieb|escribió|schreef|ha scritto)\s*:\s*$", re.I)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(original message|ursprüngliche nachricht|message d'origine)\s*-{2,}\s*$", re.I
)
_OUTLOOK_RULE = re.compile(r"^\s*_{10,}\s*$")
_OUTLOOK_FROM = re.compile(r"^\s*\*?(from|von|de)\s*:\*?\s+\S", re.I)
_OUTLOOK_SENT = re.compile(r"^\s*\*?(sent|date|gesendet|envoyé)\s*:\*?\s+\S", re.I)
_FORWARD = re.compile(
    r"^\s*(-{2,}\s*forwarded message\s*-{2,}|begin forwarded message\s*:|-{2,}\s*weitergeleitete nachricht\s*-{2,})\s*$",
    re.I,
)
_FWD_HEADER = re.compile(r"^\s*\*?(from|date|sent|subject|to|cc)\s*:\*?\s*(.*)$", re.I)
_SIGNATURE = re.compile(r"^-- ?$")


@dataclass(slots=True)
class Reply:
    new_text: str  # what the sender wrote (plus forwarded content)
    quoted_excerpt: str  # the first words of the quoted history, "" when none
    had_quote: bool


def _quote_starts_at(lines: list[str], i: int) -> bool:
    ln = lines[i]
    if _ATTRIBUTION.match(ln) or _ORIGINAL.match(ln):
        return True
    # a two-line attribution: "On Tue, 3 Mar 2026, Anna Lee <anna@x.org>" / "wrote:"
    if (
        _ATTRIBUTION_START.match(ln)
        and i + 1 < len(lines)
        and _ATTRIBUTION_END.search(lines[i + 1])
    ):
        return len(ln) + len(lines[i + 1]) < 300
    # Outlook: a rule or directly "From: ..." followed within two lines by "Sent:/Date:"
    if _OUTLOOK_FROM.match(ln) or _OUTLOOK_RULE.match(ln):
        window = lines[i + 1 : i + 4]
        return any(_OUTLOOK_SENT.match(w) for w in window)
    return False


def split_reply(body: str) -> Reply:
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    new: list[str] = []
    quoted: list[str] = []
    i = 0
    in_forward = False
    while i < len(lines):
        ln = lines[i]
        if _FORWARD.match(ln):
            in_forward = True
            new.append("Forwarded message:")
            i += 1
            # fold the forwarded header block into one line
            hdr: list[str] = []
            while i < len(lines) and (m := _FWD_HEADER.match(lines[i])):
                if m.group(1).lower() in ("from", "date", "sent", "subject"):
                    hdr.append(f"{m.group(1).capitalize()}: {m.group(2).strip()}")
                i += 1
            if hdr:
                new.append(" | ".join(hdr))
            continue
        if not in_forward and _quote_starts_at(lines, i):
            quoted.extend(x.lstrip("> ").strip() for x in lines[i + 1 :])
            break
        if ln.lstrip().startswith(">") and not in_forward:
            quoted.append(ln.lstrip().lstrip(">").strip())
            i += 1
            continue
        if _SIGNATURE.match(ln) and not in_forward:
            # signature: drop it, but keep any inline answers that could follow a quote below
            j = i + 1
            while (
                j < len(lines)
                and not lines[j].lstrip().startswith(">")
                and not _quote_starts_at(lines, j)
            ):
                j += 1
            i = j
            continue
        new.append(ln)
        i += 1

    new_text = _tidy("\n".join(new))
    excerpt_words = " ".join(
        " ".join(q for q in quoted if q and not _ATTRIBUTION.match(q)).split()[:40]
    )
    if not new_text.strip():
        # a bare forward or a quote-only message: keep the quote rather than lose the message
        return Reply(new_text=_tidy(body), quoted_excerpt="", had_quote=bool(quoted))
    return Reply(new_text=new_text, quoted_excerpt=excerpt_words, had_quote=bool(quoted))


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
