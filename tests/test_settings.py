from pathlib import Path

import pytest

from ingest.core.errors import ConfigError
from ingest.core.settings import DEFAULT_EMBEDDING_MODEL, load_settings


def test_defaults(tmp_path):
    s = load_settings()
    assert s.embedding_model == DEFAULT_EMBEDDING_MODEL
    assert s.chunk_tokens == 200 and s.chunk_overlap == 0
    assert s.store == tmp_path / "store"  # from PDQ_STORE set by the autouse fixture


def test_default_store_is_under_xdg_data_home(monkeypatch, tmp_path):
    monkeypatch.delenv("PDQ_STORE")
    assert load_settings().store == tmp_path / "xdg-data" / "pdq" / "store"


def test_precedence_argument_env_file_default(monkeypatch, tmp_path):
    cfg = tmp_path / "pdq.toml"
    cfg.write_text(
        'chunk_tokens = 150\nchunk_overlap = 10\nembed_batch_size = 8\ntimezone = "Europe/Paris"\n'
    )
    monkeypatch.setenv("PDQ_CONFIG", str(cfg))
    monkeypatch.setenv("PDQ_CHUNK_OVERLAP", "20")
    monkeypatch.setenv("PDQ_EMBED_BATCH_SIZE", "16")
    s = load_settings(embed_batch_size=4)
    assert s.embed_batch_size == 4  # argument beats env and file
    assert s.chunk_overlap == 20  # env beats file
    assert s.chunk_tokens == 150  # file beats default
    assert s.timezone == "Europe/Paris"
    assert s.calendar_future_days == 730  # default


def test_none_arguments_fall_through(monkeypatch):
    monkeypatch.setenv("PDQ_CHUNK_TOKENS", "120")
    assert load_settings(chunk_tokens=None).chunk_tokens == 120


def test_store_path_expands_user(monkeypatch):
    monkeypatch.setenv("PDQ_STORE", "~/somewhere")
    assert load_settings().store == Path("~/somewhere").expanduser()


def test_bad_values_are_one_line_errors():
    with pytest.raises(ConfigError, match="timezone"):
        load_settings(timezone="Mars/Olympus")
    with pytest.raises(ConfigError, match="chunk_tokens"):
        load_settings(chunk_tokens=3)
