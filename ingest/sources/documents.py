"""Documents (PDF, Word, PowerPoint, Excel, HTML, ODT/RTF/EPUB, plain text) to blocks.

Uses unstructured's partitioners (Word, PowerPoint, Excel, HTML, ODT/RTF/EPUB) and, for PDF,
pdfminer.six directly - the text layer, as unstructured's ``fast`` strategy reads it, without
the layout-model package its PDF module imports. A PDF without a text layer (a scan) is read by
OCR (``ingest/sources/ocr.py``) when ``ocr`` is on; one that yields no text either way is a
reported failure ("no text"), never a silent success. Section titles and page numbers kept; an
encrypted PDF is reported as "encrypted" (one that only forbids copying is read). unstructured is imported lazily (seconds of import time) and its spaCy model
download is replaced by an offline pipeline (see :mod:`ingest.core.privacy`).
"""

from __future__ import annotations

import io
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Any

from ingest.core.errors import ItemError
from ingest.items import Block
from ingest.sources import timelimit

logger = logging.getLogger(__name__)

_PANDOC_TYPES = {".odt", ".rtf", ".epub"}
_UNSTRUCTURED_TYPES = {".pdf", ".docx", ".pptx", ".xlsx", ".html", ".htm", ".xhtml"}
_TEXT_TYPES = {
    ".txt",
    ".md",
    ".markdown",
    ".rst",
    ".org",
    ".text",
    ".csv",
    ".tsv",
    ".log",
    ".patch",
    ".diff",
}
SUPPORTED_DOC_EXTENSIONS = _UNSTRUCTURED_TYPES | _TEXT_TYPES | _PANDOC_TYPES
_CTYPE_EXT = {
    "application/pdf": ".pdf",
    "text/html": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/rtf": ".rtf",
    "text/rtf": ".rtf",
    "application/epub+zip": ".epub",
}


# extension -> (unstructured.partition module, function); imported only when used (slow imports)
_PARTITIONERS = {
    ".docx": ("docx", "partition_docx"),
    ".pptx": ("pptx", "partition_pptx"),
    ".xlsx": ("xlsx", "partition_xlsx"),
    ".odt": ("odt", "partition_odt"),
    ".rtf": ("rtf", "partition_rtf"),
    ".epub": ("epub", "partition_epub"),
}


def pandoc_available() -> bool:
    if shutil.which("pandoc"):
        return True
    try:
        import pypandoc

        pypandoc.get_pandoc_version()
        return True
    except Exception:
        return False


def extension_for(name: str, ctype: str | None = None) -> str:
    ext = PurePath(name).suffix.lower()
    if ext in SUPPORTED_DOC_EXTENSIONS:
        return ext
    return _CTYPE_EXT.get((ctype or "").lower(), ext)


def parse_document_file(path: Path, ocr: str = "") -> list[Block]:
    """``ocr``: Tesseract's languages ("eng") to read scanned PDFs with, or "" for no OCR."""
    return _parse(path.read_bytes(), extension_for(path.name), path.name, ocr)


def parse_document_bytes(
    data: bytes, name: str, ctype: str | None = None, ocr: str = ""
) -> list[Block]:
    return _parse(data, extension_for(name, ctype), name, ocr)


def _parse(data: bytes, ext: str, name: str, ocr: str = "") -> list[Block]:
    if not data.strip():
        raise ItemError("empty", "the file has no content")
    if ext in _TEXT_TYPES:
        from ingest.sources.charsets import decode_bytes, mostly_text

        text, _ = decode_bytes(data)
        if not text.strip():
            raise ItemError("empty", "the file has no text")
        if not mostly_text(text):
            raise ItemError("not text", "binary content in a text file")
        return [Block(text.strip())]
    if ext == ".pdf":
        _check_pdf(data)
    if ext in _PANDOC_TYPES and not pandoc_available():
        raise ItemError("unsupported", f"{ext} needs pandoc (pip install pypandoc-binary)")
    if ext not in SUPPORTED_DOC_EXTENSIONS:
        raise ItemError("unsupported", f"no reader for {ext or 'files without extension'}")
    elements = _partition(data, ext)
    blocks = list(_elements_to_blocks(elements))
    if not blocks:
        if ext == ".pdf" and ocr:
            from ingest.sources import ocr as reader

            blocks = reader.pdf_text(data, ocr)
            for b in blocks:
                b.ocr = True
            return blocks
        if ext == ".pdf":
            raise ItemError("no text", "the PDF has no text layer (scanned?) and OCR is off")
        raise ItemError("empty", "no text found")
    return blocks


def _check_pdf(data: bytes) -> None:
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if pdf.is_encrypted and not pdf.allow.extract:
                # the person's own file, readable in any viewer: only copying is "forbidden"
                logger.info("reading a PDF that forbids text extraction (no password needed)")
    except pikepdf.PasswordError as exc:
        raise ItemError("encrypted", "the PDF is password-protected") from exc
    except ItemError:
        raise
    except Exception as exc:  # pikepdf is strict; pdfminer may still read it
        logger.debug("pikepdf could not open the PDF (%s); trying pdfminer anyway", exc)


def _partition(data: bytes, ext: str) -> list[Any]:
    from ingest.core.privacy import apply_offline_env, offline_spacy_for_unstructured

    apply_offline_env()
    offline_spacy_for_unstructured()
    f = io.BytesIO(data)
    try:
        if ext == ".pdf":
            return _pdf_elements(f)
        if ext in (".html", ".htm", ".xhtml"):
            from unstructured.partition.html import partition_html

            from ingest.sources.charsets import decode_bytes
            from ingest.sources.html_text import clean_html

            return partition_html(text=clean_html(decode_bytes(data)[0]))
        if ext in _PARTITIONERS:
            import importlib

            module, func = _PARTITIONERS[ext]
            return getattr(importlib.import_module(f"unstructured.partition.{module}"), func)(
                file=f
            )
    except ItemError:
        raise
    except Exception as exc:
        msg = str(exc).lower()
        if "password" in msg or "encrypt" in msg:
            raise ItemError("encrypted", f"{type(exc).__name__}: {exc}"[:300]) from exc
        raise ItemError("corrupt", f"{type(exc).__name__}: {exc}"[:300]) from exc
    raise ItemError("unsupported", f"no reader for {ext}")


class _Element:
    """The part of unstructured's Element interface that pdq reads."""

    def __init__(self, text: str, page: int, category: str = "NarrativeText") -> None:
        self.text = text
        self.category = category
        self.metadata = type("M", (), {"page_number": page, "category_depth": 0})()


def _pdf_elements(f: io.BytesIO) -> list[Any]:
    """PDF text layer, page by page, with pdfminer.six - the engine behind unstructured's
    ``fast`` strategy. unstructured 0.27's partition_pdf imports unstructured-inference at
    module level (-> timm -> torchvision -> a CUDA torch build), so pdq calls pdfminer itself."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextContainer

    out: list[Any] = []
    for page_no, page in enumerate(extract_pages(f, laparams=LAParams()), start=1):
        timelimit.check(f" ({page_no - 1} pages read)")
        for el in page:
            if isinstance(el, LTTextContainer):
                text = " ".join(el.get_text().split())
                if text:
                    out.append(_Element(text, page_no))
    return out


def _elements_to_blocks(elements: Iterable[Any]) -> Iterable[Block]:
    """Merge consecutive elements of one section and page into a block; Titles open sections.
    A title with no text under it is kept as a block of its own, so no text is lost."""
    titles: list[tuple[int, str]] = []  # (depth, text)
    buf: list[str] = []
    section: str | None = None
    page: int | None = None
    bare_title: str | None = None
    for el in elements:
        text = (getattr(el, "text", "") or "").strip()
        if not text:
            continue
        md = getattr(el, "metadata", None)
        el_page = getattr(md, "page_number", None)
        if getattr(el, "category", "") == "Title" and len(text) < 200:
            if buf:
                yield Block("\n".join(buf), section, page)
                buf = []
            elif bare_title:
                yield Block(bare_title, section, page)
            depth = getattr(md, "category_depth", None) or 0
            titles = [t for t in titles if t[0] < depth] + [(depth, text)]
            section = " > ".join(t for _, t in titles)
            page = el_page
            bare_title = text
            continue
        bare_title = None
        if buf and el_page != page:
            yield Block("\n".join(buf), section, page)
            buf = []
        if not buf:
            page = el_page
        buf.append(text)
    if buf:
        yield Block("\n".join(buf), section, page)
    elif bare_title:
        yield Block(bare_title, section, page)
