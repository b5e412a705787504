"""Text from pictures, offline: Tesseract (Debian's ``tesseract-ocr``) through pytesseract, for
PDFs without a text layer (pages rendered with pypdfium2) and for images — scanned invoices,
tickets, photos of letters — as files or mail attachments.

Every page checks the per-file time limit (``timelimit.check``); OCR'd blocks carry their page
and the item is marked ``ocr: true``. When Tesseract is not installed, :func:`unavailable` says
how to install it and the file is reported "no text" with that line, never a traceback.
"""

from __future__ import annotations

import io
import shutil
from typing import Any

from ingest.core.errors import ItemError
from ingest.items import Block
from ingest.sources import timelimit

DPI = 200  # rendering resolution for scanned pages: Tesseract reads 10-12 pt text well here
INSTALL = "sudo apt-get install tesseract-ocr tesseract-ocr-eng (Debian/Ubuntu), then pip install pytesseract"


def unavailable() -> str:
    """ "" when OCR can run here, else why not and how to install it."""
    if shutil.which("tesseract") is None:
        return f"OCR unavailable: Tesseract is not installed ({INSTALL})"
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return f"OCR unavailable: pytesseract is not installed ({INSTALL})"
    return ""


def _read(image: Any, languages: str) -> str:
    import pytesseract

    return str(pytesseract.image_to_string(image, lang=languages)).strip()


def image_text(data: bytes, languages: str = "eng") -> list[Block]:
    """The text of one image (any format Pillow opens); ItemError when there is none."""
    from PIL import Image, UnidentifiedImageError

    why = unavailable()
    if why:
        raise ItemError("no text", why)
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            text = _read(img.convert("L"), languages)
    except (UnidentifiedImageError, OSError) as exc:
        raise ItemError("corrupt", f"not a readable image ({type(exc).__name__})") from exc
    if not text:
        raise ItemError("no text", "OCR found no text in the image")
    return [Block(text, page=1, ocr=True)]


def pdf_text(data: bytes, languages: str = "eng") -> list[Block]:
    """OCR of every page of a PDF without a text layer, page numbers kept."""
    import pypdfium2 as pdfium

    why = unavailable()
    if why:
        raise ItemError("no text", f"the PDF has no text layer (scanned?); {why}")
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ItemError("corrupt", f"not a readable PDF ({exc})") from exc
    blocks: list[Block] = []
    try:
        for i in range(len(pdf)):
            timelimit.check(f" ({i} pages read by OCR)")
            page = pdf[i]
            image = page.render(scale=DPI / 72).to_pil().convert("L")
            text = _read(image, languages)
            if text:
                blocks.append(Block(text, page=i + 1, ocr=True))
    finally:
        pdf.close()
    if not blocks:
        raise ItemError("no text", "OCR found no text on any page")
    return blocks
