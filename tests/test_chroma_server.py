"""Server mode against a real Chroma server on loopback (`chroma run`): ingest, re-sync, ask,
status and filters behave as with the embedded store; a second machine reads but cannot write
the collection; an unreachable server fails fast and leaves the local manifest untouched."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.core.errors import NoStoreError, StoreError
from ingest.core.settings import load_settings
from ingest.pipeline import ingest_paths
from rag import Assistant

from .conftest import SAMPLE, SAMPLE_NOW
from .servers import chroma_server, free_port

pytestmark = pytest.mark.slow


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_ingest_sync_and_ask_against_a_chroma_server(tmp_path, real_embedder):
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE, docs)
    with chroma_server(tmp_path / "chroma-data") as url:
        s = load_settings(
            store=tmp_path / "store", chroma_url=url, timezone="Europe/London", now=SAMPLE_NOW
        )
        first = ingest_paths([docs], s, embedder=real_embedder)
        assert first.failed == 0 and first.chunks_embedded > 100
        assert not (tmp_path / "store" / "chroma").exists()  # the chunks live on the server
        assert (tmp_path / "chroma-data").is_dir() and (
            tmp_path / "store" / "manifest.sqlite"
        ).is_file()

        # re-sync: nothing changed → nothing embedded; an edit and a removal are applied
        again = ingest_paths([docs], s, embedder=real_embedder)
        assert again.chunks_embedded == 0 and again.files_skipped_unchanged == first.files_seen
        (docs / "notes" / "home.md").write_text(
            "# Home\n\nThe boiler service is on 2 April with HeatRight.\n"
        )
        (docs / "notes" / "reading-list.md").unlink()
        third = ingest_paths([docs], s, embedder=real_embedder)
        assert third.by_kind["note"]["updated"] == 1 and third.by_kind["note"]["removed"] == 1

        a = Assistant(settings=s, embedder=real_embedder)
        status = a.status()
        assert (
            status.exists
            and status.chroma.startswith(url)
            and status.chunks == status.chroma_chunks
        )
        assert "Chroma server" in str(status)
        ans = a.ask("When is my dentist appointment?", backend="extractive")
        assert (
            "19 March" in ans.text and ans.sources[0].meta["message_id"] == "<dentist-2@sample.pdq>"
        )
        boiler = a.ask("When is the boiler service?", backend="extractive")
        assert "2 April" in boiler.text  # the edit is searchable (dense and the BM25 index)
        hits = a.search(
            "What did Anna say about the budget?", filters={"kinds": ["email"], "sender": "Anna"}
        )
        assert hits and all(h.kind == "email" and h.sender == "Anna Lee" for h in hits)
        assert a.glance().upcoming  # metadata reads work remotely too
        a.close()

        # another machine: its own (empty) store directory, same server → reads, cannot write
        other = load_settings(
            store=tmp_path / "laptop", chroma_url=url, timezone="Europe/London", now=SAMPLE_NOW
        )
        b = Assistant(settings=other, embedder=real_embedder)
        assert "19 March" in b.ask("When is my dentist appointment?", backend="extractive").text
        with pytest.raises(StoreError, match="kept by another pdq store"):
            ingest_paths([docs / "notes"], other, embedder=real_embedder)
        # after an ingest on the first machine, the reader's keyword index follows (generation)
        (docs / "notes" / "home.md").write_text("# Home\n\nThe boiler service moved to 9 April.\n")
        ingest_paths([docs], s, embedder=real_embedder)
        assert (
            "9 April"
            in b.ask("When is the boiler service?", backend="extractive", mode="bm25").text
        )
        b.close()

        # a collection of its own on the same server is fine
        mine = other.model_copy(update={"chroma_collection": "laptop-notes"})
        assert ingest_paths([docs / "notes"], mine, embedder=real_embedder).failed == 0
        with pytest.raises(NoStoreError, match="no collection 'nobody'"):
            Assistant(settings=other.model_copy(update={"chroma_collection": "nobody"})).store  # noqa: B018

    # the server is gone: one line, quickly, and the local manifest is untouched
    manifest = tmp_path / "store" / "manifest.sqlite"
    before = _digest(manifest)
    # it fails at connect, before any model is loaded: here loading one would fail differently
    poison = tmp_path / "poison"
    poison.mkdir()
    (poison / "sentence_transformers.py").write_text("raise ImportError('the model was loaded')\n")
    env = {**os.environ, "PYTHONPATH": f"{poison}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("pdq")),
            "ingest",
            str(docs),
            "--store",
            str(tmp_path / "store"),
            "--chroma-url",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith("pdq: error: cannot reach the Chroma server at " + url), run.stderr
    assert _digest(manifest) == before


def test_unreachable_chroma_server_is_a_clear_error(tmp_path, hash_embedder):
    url = f"http://127.0.0.1:{free_port()}"
    s = load_settings(store=tmp_path / "store", chroma_url=url)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# A\n\nA note.\n")
    with pytest.raises(StoreError, match="cannot reach the Chroma server"):
        ingest_paths([notes], s, embedder=hash_embedder)
    with pytest.raises(StoreError, match="cannot reach the Chroma server"):
        Assistant(settings=s).status()


def test_chroma_url_setting_is_checked():
    from ingest.core.errors import ConfigError

    assert load_settings(chroma_url="http://db:8000/").chroma_url == "http://db:8000"
    with pytest.raises(ConfigError, match="chroma_url"):
        load_settings(chroma_url="db:8000")
    with pytest.raises(ConfigError, match="chroma_collection"):
        load_settings(chroma_collection="a b")
