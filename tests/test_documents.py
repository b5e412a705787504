"""Documents read from the real corpus: PDFs whose only restriction is on copying are read."""

from __future__ import annotations

import pytest


@pytest.mark.corpus
def test_a_pdf_that_only_forbids_copying_is_read(corpus):
    """Opens without a password but forbids extraction: the person's own file, read anyway;
    a truly password-protected PDF stays "encrypted"."""
    from ingest.core.errors import ItemError
    from ingest.sources.documents import parse_document_file

    folder = corpus / "docs/unstructured-example-docs/example-docs/pdf"
    blocks = parse_document_file(folder / "copy-protected.pdf")
    assert sum(len(b.text) for b in blocks) > 200
    with pytest.raises(ItemError) as err:
        parse_document_file(folder / "password.pdf")
    assert err.value.reason == "encrypted"
