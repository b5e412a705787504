"""The llama.cpp backend in process (llama-cpp-python, built by `make model-server`): the packaged
SmolLM2 GGUF loads as it is, its chat template comes from the GGUF, tokens stream, and a small
model's answer is checked before it is shown. Llama 2 GGUF files take the same path
(PDQ_LLM_MODEL=~/models/llama-2-7b-chat.Q4_K_M.gguf)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.core.errors import ConfigError, ModelUnavailableError
from ingest.core.settings import Settings
from rag import Assistant
from rag.cli import app
from rag.generation import LlamaCppBackend, llama_cpp_available, make_backend, pick_backend

from .checks import assert_grounded_or_flagged, prompt_sources
from .conftest import SAMPLE_NOW

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not llama_cpp_available(),
        reason="llama-cpp-python is not installed (`make model-server` builds it); it could not be built here",
    ),
]

BIRTHDAY = {
    "Mum's birthday dinner",
    "My birthday dinner on Saturday",
    "Re: My birthday dinner on Saturday",
}


@pytest.fixture(scope="module")
def llama(sample_store, real_embedder) -> Assistant:
    return Assistant(
        store=sample_store,
        embedder=real_embedder,
        timezone="Europe/London",
        now=SAMPLE_NOW,
        llm_backend="llamacpp",
        llm_threads=2,
    )


def test_the_packaged_gguf_loads_with_its_own_chat_template(llama):
    gen = llama.backend()
    assert isinstance(gen, LlamaCppBackend)
    assert not gen.loaded()
    assert gen.count_tokens("When is my dentist appointment?") > 3  # loads on first use
    assert gen.loaded() and gen.name.startswith("SmolLM2") and gen.small
    assert (
        "<|im_start|>" in gen.llm.metadata["tokenizer.chat_template"]
    )  # ChatML, from the file itself
    assert llama.generator_name() == gen.name


def test_ask_streams_tokens_from_the_packaged_gguf(llama):
    pieces = list(llama.stream("When is Mum's birthday dinner?"))
    ans = pieces[-1]
    texts = [p for p in pieces[:-1] if isinstance(p, str)]
    assert texts and ans.text.strip()
    assert ans.backend.startswith("SmolLM2") or ans.backend_fallback == "extractive"
    assert {s.title for s in prompt_sources(ans)} & BIRTHDAY  # the dinner was given to the model
    assert_grounded_or_flagged(ans, SAMPLE_NOW, direct_fact="14 Mar")
    if not ans.backend_fallback:  # the model's answer passed its checks: it came token by token
        assert ans.timings["first_token"] < ans.timings["total"]


def test_the_backend_streams_token_by_token(llama):
    """Below the checks: the engine itself yields many pieces, the first long before the end."""
    from rag.prompt import build

    gen = llama.backend()
    sources = llama.search("Mum's birthday dinner", k=3)
    prompt = build("When is Mum's birthday dinner?", sources, now=SAMPLE_NOW, small=True)
    pieces = list(gen.stream(prompt, "When is Mum's birthday dinner?"))
    assert len(pieces) > 3 and all(isinstance(p, str) for p in pieces)


def test_pdq_ask_backend_llamacpp_in_process(sample_store):
    r = CliRunner().invoke(
        app,
        [
            "ask",
            "When is my dentist appointment?",
            "--store",
            str(sample_store),
            "--backend",
            "llamacpp",
            "--now",
            "2026-03-11T09:00:00",
            "--json",
        ],
        env={"PDQ_TIMEZONE": "Europe/London", "PDQ_LLM_THREADS": "2"},
    )
    assert r.exit_code == 0, r.output
    ans = json.loads(r.stdout)
    assert ans["text"].strip() and not ans["abstained"]
    assert ans["backend"].startswith("SmolLM2") or ans["backend_fallback"] == "extractive"
    given = [s for s in ans["sources"] if s["n"]]
    assert any("smile dental" in (s["title"] + s["snippet"]).lower() for s in given)


def test_auto_picks_by_what_is_configured(tmp_path: Path):
    s = Settings(store=tmp_path, llm_device="cpu")
    assert (
        pick_backend(s) == "extractive"
    )  # no GPU, nothing configured: the direct answer measures best
    assert pick_backend(s.model_copy(update={"llm_model": "smollm2"})) == "llamacpp"
    assert (
        pick_backend(s.model_copy(update={"llm_model": "~/models/llama-2-7b-chat.Q4_K_M.gguf"}))
        == "llamacpp"
    )
    assert (
        pick_backend(s.model_copy(update={"llm_model": "meta-llama/Llama-2-7b-chat-hf"}))
        == "transformers"
    )


def test_a_missing_gguf_or_a_non_gguf_model_is_a_clear_error(tmp_path: Path):
    gen = make_backend(
        Settings(store=tmp_path, llm_backend="llamacpp", llm_model=str(tmp_path / "nope.gguf"))
    )
    with pytest.raises(ModelUnavailableError, match="is not a file"):
        gen.count_tokens("x")
    gen = make_backend(
        Settings(store=tmp_path, llm_backend="llamacpp", llm_model="meta-llama/Llama-2-7b-chat-hf")
    )
    with pytest.raises(ConfigError, match="GGUF"):
        gen.count_tokens("x")
