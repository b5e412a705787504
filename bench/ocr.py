"""OCR speed: pages per second of pdq's OCR (pypdfium2 at 200 dpi + Tesseract) on the corpus's
scanned PDFs (those without a text layer), or on generated scanned pages when it is absent.

    .venv/bin/python bench/ocr.py [--pages 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared/corpus/docs"


def scanned_pdfs() -> list[Path]:
    from ingest.core.errors import ItemError
    from ingest.sources.documents import parse_document_file

    out = []
    for path in sorted(CORPUS.rglob("*.pdf")) if CORPUS.is_dir() else []:
        try:
            parse_document_file(path)
        except ItemError as exc:
            if exc.reason == "no text":
                out.append(path)
        except Exception:  # noqa: BLE001 - broken files are not this benchmark's business
            continue
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=20, help="stop after about this many pages")
    args = ap.parse_args()
    from ingest.sources import ocr

    why = ocr.unavailable()
    if why:
        raise SystemExit(why)
    files = scanned_pdfs()
    if not files:
        from tests.test_ocr import scanned_pdf

        tmp = Path("/tmp/pdq-bench-scan.pdf")
        tmp.write_bytes(scanned_pdf([[f"Page {i} of a generated scan"] for i in range(10)]))
        files = [tmp]
    pages = words = 0
    t0 = time.perf_counter()
    for path in files:
        try:
            blocks = ocr.pdf_text(path.read_bytes())
        except Exception as exc:  # noqa: BLE001 - a blank scan, a broken file
            print(f"  {path.name}: {exc}")
            continue
        n = max(b.page or 1 for b in blocks)
        pages += n
        words += sum(len(b.text.split()) for b in blocks)
        print(f"  {path.name}: {n} pages, {sum(len(b.text.split()) for b in blocks)} words")
        if pages >= args.pages:
            break
    dt = time.perf_counter() - t0
    print(f"OCR: {pages} pages in {dt:.1f}s = {pages / dt:.2f} pages/s ({words} words)")


if __name__ == "__main__":
    main()
