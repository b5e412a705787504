"""The ingest report: what was found, added, updated, skipped, removed and what failed, by kind.

A dataclass that prints as a readable table (``str(report)``), renders in Jupyter, and converts
to JSON (``report.to_dict()``) for ``pdq ingest --json``.
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

COLUMNS = ("found", "new", "updated", "unchanged", "removed")


@dataclass
class Failure:
    locator: str
    reason: str
    detail: str = ""


@dataclass
class IngestReport:
    store: str = ""
    dry_run: bool = False
    files_seen: int = 0
    files_parsed: int = 0
    files_skipped_unchanged: int = 0
    files_removed: int = 0
    by_kind: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    chunks_stored: int = 0  # phase 1: written with their text, keyword-searchable
    chunks_embedded: int = 0  # phase 2: given their vectors
    chunks_same_text: int = 0  # of those, vectors reused from another chunk of the same text
    chunks_removed: int = 0
    semantic: tuple[int, int] = (0, 0)  # items embedded, items in the store (after the run)
    keyword_ready: float = 0.0  # seconds until phase 1 ended (everything keyword-searchable)
    chunks_planned: int = 0  # dry run: chunks that would be embedded
    failures: list[Failure] = field(default_factory=list)
    unsupported: list[Failure] = field(default_factory=list)
    repaired: int = 0
    notes: list[str] = field(default_factory=list)  # e.g. "OCR unavailable: install ..."
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    log_path: str = ""

    def count(self, kind: str, what: str, n: int = 1) -> None:
        self.by_kind[kind][what] += n

    @property
    def totals(self) -> Counter[str]:
        t: Counter[str] = Counter()
        for c in self.by_kind.values():
            t.update(c)
        return t

    @property
    def failed(self) -> int:
        return len(self.failures)

    def changes(self) -> str:
        """ "+1 new, 0 updated, -2 removed" (", 1 failed" when any): what a sync changed, or ""
        when it changed nothing and nothing failed."""
        t = self.totals
        if not (t["new"] or t["updated"] or t["removed"] or self.failed):
            return ""
        failed = f", {self.failed} failed" if self.failed else ""
        return f"+{t['new']} new, {t['updated']} updated, -{t['removed']} removed{failed}"

    def failure_reasons(self) -> Counter[str]:
        return Counter(f.reason for f in self.failures)

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "dry_run": self.dry_run,
            "files": {
                "seen": self.files_seen,
                "parsed": self.files_parsed,
                "unchanged": self.files_skipped_unchanged,
                "removed": self.files_removed,
            },
            "items": {k: dict(v) for k, v in sorted(self.by_kind.items())},
            "totals": dict(self.totals),
            "chunks_stored": self.chunks_stored,
            "chunks_embedded": self.chunks_embedded,
            "chunks_same_text": self.chunks_same_text,
            "semantic_index": {"embedded_items": self.semantic[0], "items": self.semantic[1]},
            "keyword_searchable_after": round(self.keyword_ready, 3),
            "chunks_removed": self.chunks_removed,
            "chunks_planned": self.chunks_planned,
            "failed": [vars(f) for f in self.failures],
            "failure_reasons": dict(self.failure_reasons()),
            "unsupported": [vars(f) for f in self.unsupported],
            "repaired_after_crash": self.repaired,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "log": self.log_path,
        }

    def _rows(self) -> list[list[str]]:
        rows = [["kind", *COLUMNS]]
        for kind in sorted(self.by_kind):
            c = self.by_kind[kind]
            rows.append([kind, *(str(c[col]) for col in COLUMNS)])
        t = self.totals
        rows.append(["total", *(str(t[col]) for col in COLUMNS)])
        return rows

    def __str__(self) -> str:
        head = "pdq ingest" + (
            " (dry run: parsed and chunked, nothing embedded or stored)" if self.dry_run else ""
        )
        lines = [f"{head} - {self.seconds:.1f}s", ""]
        rows = self._rows()
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            lines.append(
                "  "
                + "  ".join(
                    cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i])
                    for i, cell in enumerate(r)
                )
            )
        lines.append("")
        lines.append(
            f"  files: {self.files_seen} seen, {self.files_parsed} read, {self.files_skipped_unchanged} unchanged, {self.files_removed} gone"
        )
        if self.dry_run:
            lines.append(f"  chunks: {self.chunks_planned} would be embedded")
        else:
            lines.append(
                f"  chunks: {self.chunks_stored} stored, {self.chunks_embedded} embedded, "
                f"{self.chunks_removed} removed"
            )
            done, total = self.semantic
            if total and done < total:
                lines.append(
                    f"  semantic index: {done:,} of {total:,} items (keyword search covers all; "
                    "run `pdq ingest` again to finish embedding)"
                )
        if self.repaired:
            lines.append(
                f"  repaired {self.repaired} items left half-written by an interrupted run"
            )
        lines += [f"  note: {n}" for n in self.notes]
        lines.append(f"  failed: {self.failed}   unsupported: {len(self.unsupported)}")
        for f in self.failures[:20]:
            lines.append(f"    ✗ {f.locator}: {f.reason}" + (f" ({f.detail})" if f.detail else ""))
        if self.failed > 20:
            lines.append(
                f"    ... {self.failed - 20} more"
                + (f" - see {self.log_path}" if self.log_path else "")
            )
        if self.unsupported:
            exts = Counter(f.detail or f.reason for f in self.unsupported)
            lines.append(
                "    unsupported: " + ", ".join(f"{k} ×{v}" for k, v in exts.most_common(8))
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = self._rows()
        body = "".join(
            "<tr>"
            + "".join(
                f"<t{'h' if i == 0 else 'd'}>{html.escape(c)}</t{'h' if i == 0 else 'd'}>"
                for c in r
            )
            + "</tr>"
            for i, r in enumerate(rows)
        )
        fails = "".join(
            f"<li>{html.escape(f.locator)}: {html.escape(f.reason)}</li>"
            for f in self.failures[:20]
        )
        return f"<table>{body}</table><p>{self.chunks_embedded} chunks embedded in {self.seconds:.1f}s; {self.failed} failed</p><ul>{fails}</ul>"
