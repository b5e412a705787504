"""Shared fixtures. Every test runs offline, with its store, config and caches in a temp dir."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_docs"
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLE_NOW = datetime(2026, 3, 11, 9, 0, tzinfo=ZoneInfo("Europe/London"))

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every data/config path at a temp dir; no test touches the user's store."""
    for k in list(os.environ):
        if k.startswith("PDQ_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("PDQ_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("PDQ_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


@pytest.fixture
def settings(tmp_path: Path):
    from ingest.core.settings import load_settings

    return load_settings(store=tmp_path / "store", timezone="Europe/London", now=SAMPLE_NOW)


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    from ingest.core.settings import DEFAULT_EMBEDDING_MODEL
    from ingest.embedding import resolve_model_path

    return AutoTokenizer.from_pretrained(
        resolve_model_path(DEFAULT_EMBEDDING_MODEL), local_files_only=True
    )


@pytest.fixture
def hash_embedder(tokenizer):
    """A fresh deterministic fake embedder (counts calls) sharing the real tokenizer."""
    from tests.fakes import HashEmbedder

    return HashEmbedder(tokenizer)


@pytest.fixture(scope="session")
def real_embedder():
    """The real packaged all-MiniLM-L6-v2, loaded once per test session."""
    from ingest.core.settings import Settings
    from ingest.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(Settings(store=Path("/nonexistent")))


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"real-data corpus not present at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory, real_embedder) -> Path:
    """sample_docs/ ingested once per session with the real model into a real Chroma store.
    Tests must not write to it (copy it first)."""
    from ingest.core.settings import load_settings
    from ingest.pipeline import ingest_paths

    store = tmp_path_factory.mktemp("sample") / "store"
    s = load_settings(store=store, timezone="Europe/London", now=SAMPLE_NOW)
    report = ingest_paths([SAMPLE], s, embedder=real_embedder)
    assert report.failed == 0
    return store


@pytest.fixture(scope="session")
def sample_assistant(sample_store, real_embedder):
    """An Assistant over the sample store (extractive backend unless a test asks otherwise)."""
    from rag import Assistant

    return Assistant(
        store=sample_store,
        embedder=real_embedder,
        timezone="Europe/London",
        now=SAMPLE_NOW,
        llm_backend="extractive",
    )
