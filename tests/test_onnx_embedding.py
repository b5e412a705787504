"""The ONNX Runtime embedding engine: which engine is picked, the same vectors as
sentence-transformers (so stores are interchangeable), and a search path without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.core.settings import DEFAULT_EMBEDDING_MODEL, Settings
from ingest.embedding import SentenceTransformerEmbedder, make_embedder, pick_engine
from ingest.embedding import resolve_model_path as model_path
from ingest.onnx_embedding import OnnxEmbedder, supports
from tests.conftest import ROOT, SAMPLE_NOW

TEXTS = [
    "Your appointment has been moved to Thursday 19 March at 15:00.",
    "Invoice 2291 for the boiler service: total due £184.00 by 31 March.",
    "short",
    "Re: Team offsite\n\n" + "We will meet at the station at nine and take the train. " * 30,
]


def test_engine_choice(tmp_path):
    path = model_path(DEFAULT_EMBEDDING_MODEL)
    assert supports(path)
    cpu = Settings(store=tmp_path, embedding_device="cpu")
    assert pick_engine(cpu, path) == "onnx"
    assert isinstance(make_embedder(cpu), OnnxEmbedder)
    assert pick_engine(cpu.model_copy(update={"embedding_engine": "torch"}), path) == "torch"
    assert pick_engine(Settings(store=tmp_path, embedding_device="cuda"), path) == "torch"
    # a model that is not a plain sentence-transformers folder runs on torch, as asked or not
    odd = tmp_path / "odd-model"
    odd.mkdir()
    (odd / "modules.json").write_text(
        json.dumps([{"type": "sentence_transformers.models.Dense", "path": "2_Dense"}])
    )
    assert not supports(str(odd))
    assert pick_engine(cpu.model_copy(update={"embedding_engine": "onnx"}), str(odd)) == "torch"


@pytest.mark.slow
def test_onnx_vectors_match_torch(tmp_path):
    import numpy as np

    s = Settings(store=tmp_path, model_cache=tmp_path / "models")
    onnx = OnnxEmbedder(s, model_path(DEFAULT_EMBEDDING_MODEL))
    a = np.asarray(onnx.embed(TEXTS))
    assert onnx.model_file.is_file() and onnx.model_file.is_relative_to(tmp_path / "models")
    b = np.asarray(SentenceTransformerEmbedder(s).embed(TEXTS))
    assert a.shape == b.shape == (len(TEXTS), 384)
    assert np.abs(a - b).max() < 1e-4  # the store is interchangeable between engines
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    # a second embedder reuses the exported file (no torch needed any more)
    again = OnnxEmbedder(s, model_path(DEFAULT_EMBEDDING_MODEL))
    assert np.abs(np.asarray(again.embed(TEXTS[:1])) - a[:1]).max() < 1e-6


@pytest.mark.slow
def test_store_built_with_torch_is_searched_with_onnx(sample_store):
    """The session's sample store is built with the torch engine; the ONNX engine finds the
    same sources in the same order."""
    from rag import Assistant

    torch_a = Assistant(
        store=sample_store, timezone="Europe/London", now=SAMPLE_NOW, embedding_engine="torch"
    )
    onnx_a = Assistant(store=sample_store, timezone="Europe/London", now=SAMPLE_NOW)
    assert isinstance(onnx_a.embedder, OnnxEmbedder)
    for q in (
        "When is my dentist appointment?",
        "boiler invoice",
        "What did Anna say about the budget?",
    ):
        t = [s.chunk_id for s in torch_a.search(q, k=5, mode="dense")]
        o = [s.chunk_id for s in onnx_a.search(q, k=5, mode="dense")]
        assert t and t == o


@pytest.mark.slow
def test_search_from_a_terminal_needs_no_torch(sample_store, tmp_path):
    """`pdq search` on the ONNX engine never imports torch, transformers, sentence-transformers
    or LangChain (they cost seconds of every terminal search's start)."""
    code = f"""
import sys
from pathlib import Path
from typer.testing import CliRunner
from rag.cli import app
r = CliRunner().invoke(app, ["search", "dentist appointment", "--store", {str(sample_store)!r}, "--json"])
assert r.exit_code == 0, r.output
heavy = [m for m in ("torch", "transformers", "sentence_transformers", "langchain_core",
                     "langchain_chroma", "unstructured") if m in sys.modules]
print(len(r.output), heavy)
"""
    import os

    env = dict(os.environ, HF_HUB_OFFLINE="1", PDQ_TIMEZONE="Europe/London")
    env.pop("PDQ_STORE", None)
    make_embedder(Settings(store=tmp_path)).warm()  # the one-time export (it needs torch) done
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("[]"), done.stdout


def test_the_chunker_cuts_the_same_with_the_light_tokenizer(tokenizer, tmp_path):
    """The ONNX engine's tokenizer (``tokenizers`` alone) gives the chunker the same token
    counts and offsets as transformers' tokenizer: the same chunks, the same store."""
    from ingest.chunking import Chunker
    from ingest.onnx_embedding import TokenCounter
    from ingest.sources.discovery import walk
    from ingest.sources.readers import read_source

    light = TokenCounter(Path(model_path(DEFAULT_EMBEDDING_MODEL)) / "tokenizer.json")
    text = "Re: Budget — £184.00 due 31/03. Ünïcödé, emoji 🎉 and a very-long-hyphenated-word " * 40
    for kw in ({}, {"return_offsets_mapping": True}):
        a = light([text, ""], add_special_tokens=False, **kw)
        b = tokenizer([text, ""], add_special_tokens=False, **kw)
        assert a["input_ids"] == b["input_ids"]
        if kw:
            assert [list(map(tuple, o)) for o in a["offset_mapping"]] == [
                list(map(tuple, o)) for o in b["offset_mapping"]
            ]
    assert light("", add_special_tokens=True)["input_ids"] == tokenizer("")["input_ids"]
    s = Settings(store=tmp_path)
    fast, slow = Chunker(light, 200, 32, 256), Chunker(tokenizer, 200, 32, 256)
    n = 0
    for src in walk(ROOT / "sample_docs"):
        for result in read_source(src, s):
            for item in result.items:
                assert [c.text for c in fast.chunk_item(item)] == [
                    c.text for c in slow.chunk_item(item)
                ]
                n += 1
    assert n > 200
