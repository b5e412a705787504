"""Chunks are measured in the embedding model's own tokens and never exceed its limit."""

import pytest

from ingest.chunking import Chunker
from ingest.items import Block, Item


def chunker(tok, size=200, overlap=32):
    return Chunker(tok, size, overlap, model_max=256)


def item(blocks, context="Note notes/x.md"):
    return Item("note:1", "note", "x.md", context, blocks, {"path": "/n/x.md", "date": 5})


def ntok(tok, text):
    return len(tok(text)["input_ids"])


def test_no_chunk_exceeds_the_limit_and_all_text_survives(tokenizer):
    long_para = " ".join(
        f"Sentence number {i} talks about the Atlas budget and hosting costs." for i in range(200)
    )
    no_punct = "word " * 3000
    c = chunker(tokenizer)
    chunks = c.chunk_item(item([Block(long_para), Block(no_punct, section="Raw")]))
    assert len(chunks) > 10
    assert max(ntok(tokenizer, ch.text) for ch in chunks) <= 200
    joined = " ".join(ch.text for ch in chunks)
    for i in (0, 77, 199):
        assert f"Sentence number {i} " in joined


def test_context_line_and_section_head_every_chunk(tokenizer):
    blocks = [
        Block("Intro text.", None),
        Block("Budget is £91,000.", "Atlas > Budget"),
        Block("More budget.", "Atlas > Budget"),
    ]
    chunks = chunker(tokenizer).chunk_item(item(blocks))
    assert chunks[0].text.startswith("Note notes/x.md\nIntro text.")
    assert chunks[1].text == "Note notes/x.md > Atlas > Budget\nBudget is £91,000.\nMore budget."
    assert chunks[1].meta["section"] == "Atlas > Budget"
    assert [c.chunk_id for c in chunks] == ["note:1#0", "note:1#1"]
    assert (
        chunks[1].meta["item_id"] == "note:1"
        and chunks[1].meta["kind"] == "note"
        and chunks[1].meta["date"] == 5
    )


def test_overlap_between_consecutive_pieces(tokenizer):
    sents = [f"Fact {i} is here." for i in range(120)]
    chunks = chunker(tokenizer, size=64, overlap=16).chunk_item(item([Block(" ".join(sents))]))
    bodies = [c.text.split("\n", 1)[1] for c in chunks]
    for a, b in zip(bodies, bodies[1:], strict=False):
        assert a.split("\n")[-1] in b  # the last sentence of a chunk opens the next one


def test_model_limit_wins_over_setting(tokenizer):
    c = Chunker(tokenizer, 1000, 0, model_max=128)
    chunks = c.chunk_item(item([Block("token " * 2000)]))
    assert max(ntok(tokenizer, ch.text) for ch in chunks) <= 128


def test_empty_item_still_gets_one_chunk(tokenizer):
    [only] = chunker(tokenizer).chunk_item(
        item([], context='Email from Anna to Sam, 2026-03-02, "(no subject)"')
    )
    assert only.text.startswith("Email from Anna")


def test_each_chunk_cites_its_own_page(tokenizer):
    """Blocks without a section on pages 1-3 are not merged under page 1."""
    blocks = [Block(f"Text of page {p}. " * 5, None, page=p) for p in (1, 2, 3)]
    chunks = chunker(tokenizer).chunk_item(item(blocks))
    assert [c.meta.get("page") for c in chunks] == [1, 2, 3]
    assert all(f"Text of page {c.meta['page']}." in c.text for c in chunks)


@pytest.mark.corpus
def test_pages_are_right_on_real_multi_page_pdfs(corpus, tokenizer, tmp_path):
    """Every chunk of real multi-page PDFs cites the page its text is on (pdfminer's own
    page-by-page text is the reference)."""
    from pdfminer.high_level import extract_text

    from ingest.core.settings import Settings
    from ingest.sources.discovery import SourceFile
    from ingest.sources.readers import read_source

    folder = corpus / "docs/unstructured-example-docs/example-docs/pdf"
    pages_seen = set()
    for name in ("layout-parser-paper-fast.pdf", "multi-column-2p.pdf"):
        path = folder / name
        if not path.exists():
            pytest.skip(f"{name} is not in the corpus")
        items = [
            it
            for r in read_source(SourceFile(path, "document"), Settings(store=tmp_path))
            for it in r.items
        ]
        chunks = [c for it in items for c in chunker(tokenizer).chunk_item(it)]
        assert len({c.meta.get("page") for c in chunks}) > 1, name
        for c in chunks:
            page = c.meta["page"]
            on_page = " ".join(extract_text(str(path), page_numbers=[page - 1]).split())
            body = c.text.split("\n", 1)[1]
            words = body.split()[:6]  # the chunk's first words are on its page
            assert " ".join(words) in on_page, (name, page, words)
            pages_seen.add((name, page))
    assert len(pages_seen) > 3
