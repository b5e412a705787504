"""The remote generator and remote embeddings against a real OpenAI-compatible server on loopback:
llama.cpp's server (`llama-cpp-python[server]`, installed by `make model-server`) serving the
packaged SmolLM2 GGUF. Failure cases: server down, hung, wrong model name."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.core.errors import RemoteError
from ingest.core.settings import load_settings
from ingest.pipeline import ingest_paths
from rag import Assistant
from rag.generation import packaged_smollm2_gguf

from .checks import assert_grounded_or_flagged, prompt_sources
from .conftest import SAMPLE, SAMPLE_NOW
from .servers import free_port, llama_cpp_available, llama_server, models, silent_server

pytestmark = pytest.mark.slow

# the dinner's items in the sample store: Linda's mail about it and the calendar event
BIRTHDAY = {
    "Mum's birthday dinner",
    "My birthday dinner on Saturday",
    "Re: My birthday dinner on Saturday",
}

needs_llama = pytest.mark.skipif(
    not llama_cpp_available(),
    reason="llama.cpp's server is not installed (`make model-server` builds llama-cpp-python[server]); "
    "it could not be installed on this machine",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> str:
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with llama_server(packaged_smollm2_gguf(), log) as url:
        yield url


def _assistant(store: Path, url: str, embedder, **kw) -> Assistant:
    return Assistant(
        store=store, embedder=embedder, timezone="Europe/London", now=SAMPLE_NOW, llm_url=url, **kw
    )


@needs_llama
def test_ask_and_stream_through_a_llama_cpp_server(served, sample_store, real_embedder):
    """The request goes to the server, comes back token by token, with the birthday dinner's
    sources in the prompt, and an answer whose facts are in them (or flagged). The served
    model's wording is not checked: llama.cpp is built for each machine and a 135M model's
    greedy words differ between builds."""
    assert models(served) == ["smollm2"]
    a = _assistant(sample_store, served, real_embedder)  # llm_url alone selects the remote backend
    assert a.settings.llm_backend == "remote"
    question = "Where is Mum's birthday dinner?"
    ans = a.ask(question)  # one request, not streamed
    assert ans.backend == f"smollm2 at {served}" and not ans.backend_fallback
    assert not [w for w in ans.warnings if "model server" in w]
    assert not ans.abstained and ans.sources
    assert BIRTHDAY & {s.title for s in prompt_sources(ans)}, [s.title for s in ans.sources]
    assert_grounded_or_flagged(ans, SAMPLE_NOW)
    pieces = list(a.stream(question))
    final = pieces[-1]
    assert len(pieces) > 3 and all(isinstance(p, str) for p in pieces[:-1])  # token by token
    assert "".join(pieces[:-1]).strip() and final.backend == ans.backend
    assert final.timings["first_token"] < final.timings["generate"]
    assert BIRTHDAY & {s.title for s in prompt_sources(final)}
    assert_grounded_or_flagged(final, SAMPLE_NOW)
    # the same through the CLI: an answer, then the sources it was given
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("pdq")),
            "ask",
            question,
            "--json",
            "--store",
            str(sample_store),
            "--now",
            "2026-03-11T09:00:00",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**_env(), "PDQ_LLM_URL": served, "PDQ_TIMEZONE": "Europe/London"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout)
    assert out["backend"] == f"smollm2 at {served}" and out["text"].strip()
    assert BIRTHDAY & {s["title"] for s in out["sources"] if s["n"]}


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PDQ_")} | {
        "HF_HUB_OFFLINE": "1"
    }


@needs_llama
def test_wrong_model_name_is_a_clear_message(served, sample_store, real_embedder):
    a = _assistant(sample_store, served, real_embedder, llm_model="llama-2-70b-chat")
    ans = a.ask("When is my dentist appointment?")
    note = " ".join(ans.warnings)
    assert "no model 'llama-2-70b-chat'" in note and "PDQ_LLM_MODEL" in note, ans.warnings
    assert (
        ans.backend == "extractive" and "19 March" in ans.text
    )  # still answered, from the passages


def test_server_down_is_a_clear_message(sample_store, real_embedder):
    url = f"http://127.0.0.1:{free_port()}/v1"
    a = _assistant(sample_store, url, real_embedder, llm_retries=0)
    t0 = time.perf_counter()
    ans = a.ask("When is my dentist appointment?")
    assert time.perf_counter() - t0 < 30
    assert any(w.startswith(f"cannot reach the model server at {url}") for w in ans.warnings), (
        ans.warnings
    )
    assert ans.backend == "extractive" and "19 March" in ans.text
    with pytest.raises(RemoteError, match="cannot reach the model server"):
        a.backend().model  # noqa: B018  (what `pdq ask` reports when it cannot fall back)


def test_hung_server_times_out_with_a_clear_message(sample_store, real_embedder):
    with silent_server() as url:
        a = _assistant(
            sample_store, url, real_embedder, llm_timeout=2, llm_retries=1, llm_model="smollm2"
        )
        t0 = time.perf_counter()
        ans = a.ask("When is my dentist appointment?")
        took = time.perf_counter() - t0
    assert any("did not answer in time" in w for w in ans.warnings), ans.warnings
    assert (
        3 <= took < 90
    )  # two tries of 2 s plus the client's backoff, then the fallback (the server hangs forever)
    assert "19 March" in ans.text


def test_api_key_is_never_shown(tmp_path, monkeypatch):
    monkeypatch.setenv("PDQ_LLM_API_KEY", "sk-very-secret-123")
    s = load_settings(llm_url="http://127.0.0.1:9/v1")
    assert s.llm_api_key.get_secret_value() == "sk-very-secret-123"
    assert "sk-very-secret" not in repr(s) and "sk-very-secret" not in s.model_dump_json()
    assert "sk-very-secret" not in str(s)


@needs_llama
def test_remote_embeddings_build_a_store_that_records_the_model(tmp_path, hash_embedder):
    log = tmp_path / "embed-server.log"
    with llama_server(packaged_smollm2_gguf(), log, embedding=True, alias="smollm2-embed") as url:
        docs = tmp_path / "docs"
        shutil.copytree(SAMPLE / "notes", docs)
        s = load_settings(
            store=tmp_path / "store",
            embedding_url=url,
            embedding_model="smollm2-embed",
            timezone="Europe/London",
            now=SAMPLE_NOW,
        )
        report = ingest_paths([docs], s)
        assert report.failed == 0 and report.chunks_embedded > 0
        a = Assistant(settings=s)
        st = a.status()
        assert st.embedding_model == "smollm2-embed" and st.embedding_dim == 576
        hits = a.search("allotment", mode="dense")
        assert hits  # retrieval runs on the served vectors (quality is the model's business)
        # the store refuses the local model: same store, different embedding model
        local = Assistant(store=tmp_path / "store", timezone="Europe/London", now=SAMPLE_NOW)
        with pytest.raises(Exception, match="smollm2-embed"):
            local.search("allotment")
