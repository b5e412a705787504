"""The per-file parse time limit: a slow PDF (checked page by page) and a parser that hangs (the
SIGALRM backstop) fail as "timed out" and the rest of the run is stored."""

from __future__ import annotations

import shutil
import time

from tests.conftest import SAMPLE


def test_a_slow_pdf_times_out_and_the_rest_is_stored(tmp_path, settings, hash_embedder):
    from ingest.pipeline import ingest_paths

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SAMPLE / "documents" / "tenancy-agreement.pdf", docs / "slow.pdf")
    (docs / "fine.md").write_text("# Fine\n\nThis note is quick to read.\n")
    s = settings.model_copy(update={"max_file_seconds": 1e-6})  # any PDF page is too slow for this
    r = ingest_paths([docs], s, embedder=hash_embedder)
    assert [(f.locator.rsplit("/", 1)[-1], f.reason) for f in r.failures] == [
        ("slow.pdf", "timed out")
    ]
    assert (
        "per-file limit" in r.failures[0].detail and "PDQ_MAX_FILE_SECONDS" in r.failures[0].detail
    )
    assert r.by_kind["note"]["new"] == 1


def test_a_hanging_parser_is_stopped_by_the_alarm(tmp_path, settings, hash_embedder, monkeypatch):
    import ingest.sources.readers
    from ingest.pipeline import ingest_paths

    def hang(*a, **kw):
        time.sleep(300)  # far past the limit: only the alarm ends it in time

    monkeypatch.setattr(ingest.sources.readers, "parse_note", hang)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "stuck.md").write_text("# Stuck\n")
    (notes / "todo.txt").write_text("(A) Call the plumber due:2026-03-12\n")
    t = time.monotonic()
    r = ingest_paths(
        [notes], settings.model_copy(update={"max_file_seconds": 0.5}), embedder=hash_embedder
    )
    assert time.monotonic() - t < 150  # the 300 s hang was cut short
    assert [f.reason for f in r.failures] == ["timed out"]
    assert r.by_kind["todo"]["new"] == 1


def test_no_limit_when_zero(tmp_path, settings, hash_embedder):
    from ingest.pipeline import ingest_paths

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SAMPLE / "documents" / "tenancy-agreement.pdf", docs / "a.pdf")
    r = ingest_paths(
        [docs], settings.model_copy(update={"max_file_seconds": 0}), embedder=hash_embedder
    )
    assert r.failed == 0 and r.by_kind["document"]["new"] == 1


def test_the_limit_holds_in_a_thread_as_for_page_ingests(
    tmp_path, settings, hash_embedder, monkeypatch
):
    """An ingest started from the page runs outside the main thread, where SIGALRM cannot be
    used: the watchdog stops a parser stuck in Python code there too."""
    import threading

    import ingest.sources.readers
    from ingest.pipeline import ingest_paths

    def spin(*a, **kw):
        end = time.monotonic() + 300  # far past the limit: only the watchdog ends it in time
        while time.monotonic() < end:
            pass

    monkeypatch.setattr(ingest.sources.readers, "parse_note", spin)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "stuck.md").write_text("# Stuck\n")
    (notes / "todo.txt").write_text("(A) Call the plumber due:2026-03-12\n")
    out = {}

    def run() -> None:
        out["report"] = ingest_paths(
            [notes], settings.model_copy(update={"max_file_seconds": 0.5}), embedder=hash_embedder
        )

    t = time.monotonic()
    worker = threading.Thread(target=run)
    worker.start()
    worker.join(150)
    assert not worker.is_alive() and time.monotonic() - t < 150  # the 300 s spin was cut short
    r = out["report"]
    assert [f.reason for f in r.failures] == ["timed out"]
    assert "per-file limit" in r.failures[0].detail
    assert r.by_kind["todo"]["new"] == 1


def test_a_finished_block_is_never_interrupted_later():
    """The watchdog is stopped when the block ends: nothing is raised afterwards."""
    import threading

    from ingest.sources.timelimit import time_limit

    errors = []

    def run() -> None:
        try:
            with time_limit(0.1):
                pass
            time.sleep(3)  # past the limit and its grace period
            for _ in range(10_000):  # Python code where an async exception would land
                pass
        except Exception as exc:  # pragma: no cover - the failure being tested
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert errors == []
