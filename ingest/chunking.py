"""Structure-aware chunking, measured in tokens of the embedding model's own tokenizer.

Each chunk is ``context line [> section]`` + text, and no chunk exceeds the model's
``max_seq_length`` (text past it would be silently truncated by the encoder, i.e. lost). Blocks
of one section are packed together; a long block is split at paragraphs, then sentences, then
token windows, with a small token overlap between consecutive pieces of one text.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from ingest.items import Item, clean_meta

logger = logging.getLogger(__name__)

CHUNKER_VERSION = "1"
_SENTENCE = re.compile(r"(?<=[.!?…])\s+(?=[\"'(\[]?[A-Z0-9À-ÖØ-Þ])|\n+")


def chunker_signature(settings: Any, model_max: int) -> str:
    """What the store records about chunking; a change means the store must be rebuilt."""
    limit = min(settings.chunk_tokens, model_max)
    return f"pdq-chunker-{CHUNKER_VERSION}/tokens={limit}/overlap={min(settings.chunk_overlap, limit // 4)}"


_SIGNATURE = re.compile(r"^pdq-chunker-(?P<v>[^/]+)/tokens=(?P<t>\d+)/overlap=(?P<o>\d+)$")


def keep_store_chunking(settings: Any, recorded: str | None) -> Any:
    """``settings`` chunking the way an existing store was built (``recorded``: its chunker
    signature), for each of chunk size and overlap that was not set explicitly (argument,
    environment, config file). A later pdq's different default applies to new stores and never
    makes an existing one ask for ``--rebuild``; an explicit setting that differs still does."""
    m = _SIGNATURE.match(recorded or "")
    if not m or m["v"] != CHUNKER_VERSION:
        return settings
    update = {
        k: int(v)
        for k, v in (("chunk_tokens", m["t"]), ("chunk_overlap", m["o"]))
        if k not in settings.model_fields_set and getattr(settings, k) != int(v)
    }
    return settings.model_copy(update=update) if update else settings


@dataclass(slots=True)
class Chunk:
    chunk_id: str
    item_id: str
    text: str
    meta: dict[str, str | int | float | bool]


class Chunker:
    """Split items into chunks of at most ``max_tokens`` tokens (special tokens included)."""

    def __init__(self, tokenizer: Any, max_tokens: int, overlap: int, model_max: int) -> None:
        self.tok = tokenizer
        self.limit = min(max_tokens, model_max)  # tokens per chunk, incl. [CLS]/[SEP]
        self.overlap = min(overlap, self.limit // 4)
        self.specials = len(tokenizer("", add_special_tokens=True)["input_ids"])

    def count(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        enc = self.tok(texts, add_special_tokens=False)["input_ids"]
        return [len(e) for e in enc]

    def chunk_item(self, item: Item) -> list[Chunk]:
        base = clean_meta(
            {**item.meta, "item_id": item.item_id, "kind": item.kind, "title": item.title}
        )
        chunks: list[Chunk] = []
        # group consecutive blocks of the same section on the same page: a chunk cites one
        # page (a section running over pages is cut at each page, so page 3 is not cited as 1)
        groups: list[tuple[str | None, int | None, list[str]]] = []
        for b in item.blocks:
            if not b.text.strip():
                continue
            if groups and groups[-1][0] == b.section and groups[-1][1] == b.page:
                groups[-1][2].append(b.text.strip())
            else:
                groups.append((b.section, b.page, [b.text.strip()]))
        if not groups:  # headers only (e.g. an empty mail): the context line is the content
            groups = [(None, None, [])]
        for section, page, texts in groups:
            header = item.context + (f" > {section}" if section else "")
            budget = self.limit - self.specials - self.count([header + "\n"])[0] - 2  # join margin
            if budget < 24:  # absurdly long header: shorten it rather than lose the text
                header = header[:120]
                budget = (
                    self.limit - self.specials - self.count([header + "\n"])[0] - 2
                )  # join margin
            for body in self._pack(texts, budget):
                meta = dict(base)
                if section:
                    meta["section"] = section
                if page:
                    meta["page"] = page
                chunks.append(Chunk("", item.item_id, f"{header}\n{body}".rstrip(), meta))
        for i, c in enumerate(chunks):
            c.chunk_id = f"{item.item_id}#{i}"
            c.meta["chunk"] = i
        return chunks

    # -- packing ---------------------------------------------------------------------------
    def _units(self, texts: list[str], budget: int) -> list[tuple[str, int]]:
        """Paragraphs, with any paragraph over budget split into sentences, then windows."""
        paras = [p.strip() for t in texts for p in re.split(r"\n\s*\n", t) if p.strip()]
        counts = self.count(paras)
        units: list[tuple[str, int]] = []
        for p, n in zip(paras, counts, strict=True):
            if n <= budget:
                units.append((p, n))
                continue
            sents = [s.strip() for s in _SENTENCE.split(p) if s.strip()]
            for s, m in zip(sents, self.count(sents), strict=True):
                if m <= budget:
                    units.append((s, m))
                else:
                    units.extend(self._windows(s, budget))
        return units

    def _windows(self, text: str, budget: int) -> list[tuple[str, int]]:
        enc = self.tok([text], add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"][0]
        step = max(1, budget - self.overlap)
        out = []
        for i in range(0, len(offsets), step):
            window = offsets[i : i + budget]
            piece = text[window[0][0] : window[-1][1]].strip()
            if piece:
                out.append((piece, len(window)))
            if i + budget >= len(offsets):
                break
        return out

    def _pack(self, texts: list[str], budget: int) -> list[str]:
        units = self._units(texts, budget)
        if not units:
            return [""]
        chunks: list[str] = []
        cur: list[tuple[str, int]] = []
        size = 0
        for text, n in units:
            if cur and size + n + 1 > budget:
                chunks.append("\n".join(t for t, _ in cur))
                # carry trailing units as overlap when they fit
                carry: list[tuple[str, int]] = []
                total = 0
                for t, m in reversed(cur):
                    if total + m > self.overlap:
                        break
                    carry.insert(0, (t, m))
                    total += m
                cur, size = carry, total
                if size + n + 1 > budget:
                    cur, size = [], 0
            cur.append((text, n))
            size += n + 1
        if cur:
            chunks.append("\n".join(t for t, _ in cur))
        # the sum of unit counts is an estimate (joins can merge tokens): verify and re-split
        final: list[str] = []
        for c, n in zip(chunks, self.count(chunks), strict=True):
            final.extend([c] if n <= budget else [t for t, _ in self._windows(c, budget)])
        return final
