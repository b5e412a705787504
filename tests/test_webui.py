"""The Streamlit page, run in-process with ``streamlit.testing.v1.AppTest`` against real stores:
empty-store screen, ingest from the page (sample_docs, a folder, uploads), ask → streamed answer
with source cards, filters, the glance panel with a frozen now, escaping of stored HTML and
Markdown, error messages, one model load per process."""

from __future__ import annotations

import shutil
import time
import tomllib

import pytest

from tests.conftest import ROOT, SAMPLE

APP = ROOT / "webui" / "app.py"
NOW = "2026-03-11T09:00:00"


@pytest.fixture(autouse=True)
def _page_without_token(monkeypatch):
    """These tests drive the page in-process; the token has its own tests below."""
    monkeypatch.setenv("PDQ_PAGE_TOKEN", "off")


def page(timeout: float = 240) -> object:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=timeout)
    at.run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def ask(at, question: str):
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def glance_text(at) -> str:
    """Everything in the glance column, folded parts included."""
    for col in at.columns:
        if any(h.value == "At a glance" for h in col.subheader):
            return "\n".join([texts(col.markdown)] + [texts(e.markdown) for e in col.expander])
    raise AssertionError("no glance panel")


def cards(at) -> list:
    return [e for e in at.expander if e.label.startswith(("✉️", "📅", "📎", "☑️", "📝", "📄"))]


def wait_for_ingest(at, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        at.run()
        assert not at.exception, at.exception
        if "Ingest finished" in texts(at.success) or "Ingest stopped" in texts(at.error):
            return
        time.sleep(0.5)
    raise AssertionError("the ingest started from the page did not finish")


@pytest.fixture
def on_sample(sample_store, monkeypatch):
    """The page's environment: the sample store, a frozen now, the extractive backend."""
    monkeypatch.setenv("PDQ_STORE", str(sample_store))
    monkeypatch.setenv("PDQ_NOW", NOW)
    monkeypatch.setenv("PDQ_TIMEZONE", "Europe/London")
    monkeypatch.setenv("PDQ_LLM_BACKEND", "extractive")
    return sample_store


# --- fast: no model -----------------------------------------------------------------------------
def test_empty_store_screen(tmp_path, monkeypatch):
    monkeypatch.setenv("PDQ_STORE", str(tmp_path / "nothing-here"))
    at = page()
    assert at.title[0].value == "Welcome to pdq"
    body = texts(at.main.markdown)
    assert "pdq ingest" in body and "Maildir" in body
    labels = [b.label for b in at.button]
    assert "Ingest the sample documents" in labels and "Ingest" in labels
    assert "No store yet." in texts(at.sidebar.markdown)
    assert not at.chat_input  # nothing to ask yet
    assert not (tmp_path / "nothing-here").exists()  # looking does not create a store


def test_ingest_form_refuses_a_missing_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PDQ_STORE", str(tmp_path / "store"))
    at = page()
    at.text_input(key="main_path").set_value(str(tmp_path / "no-such-folder"))
    at.button(key="main_go").click().run()
    assert "There is no file or folder" in texts(at.error)
    assert not at.exception


def test_bad_settings_are_a_message_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("PDQ_TOP_K", "many")
    at = page()
    assert "settings are not valid" in texts(at.error)


def test_page_never_renders_html():
    """No st.html, components.html or unsafe_allow_html call in the page: stored text cannot become markup."""
    import ast

    for f in (ROOT / "webui").glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Call):
                assert not any(k.arg == "unsafe_allow_html" for k in node.keywords), (
                    f"{f}:{node.lineno}"
                )
                assert not (isinstance(node.func, ast.Attribute) and node.func.attr == "html"), (
                    f"{f}:{node.lineno}"
                )


def test_streamlit_config_is_private():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "127.0.0.1" and cfg["server"]["headless"] is True
    assert (
        cfg["browser"]["gatherUsageStats"] is False
        and cfg["browser"]["serverAddress"] == "127.0.0.1"
    )
    from rag.cli import streamlit_command

    cmd = streamlit_command("127.0.0.1", 8599)
    flags = dict(zip(cmd[5::2], cmd[6::2], strict=False))
    assert (
        flags["--server.address"] == "127.0.0.1" and flags["--browser.gatherUsageStats"] == "false"
    )
    assert flags["--server.headless"] == "true" and flags["--browser.serverAddress"] == "127.0.0.1"


# --- the real page over real stores (real embedding model) ------------------------------------------
@pytest.mark.slow
def test_ingest_sample_docs_and_uploads_from_the_page(tmp_path, monkeypatch):
    store = tmp_path / "store"
    monkeypatch.setenv("PDQ_STORE", str(store))
    monkeypatch.setenv("PDQ_NOW", NOW)
    monkeypatch.setenv("PDQ_TIMEZONE", "Europe/London")
    monkeypatch.setenv("PDQ_LLM_BACKEND", "extractive")
    at = page()
    at.button(key="ingest_sample").click().run()
    assert not at.exception
    wait_for_ingest(at)
    done = texts(at.success)
    assert "Ingest finished" in done and "0 failed" in done
    report = texts(at.code)
    assert "failed: 0" in report and "email" in report and "event" in report  # the CLI's report
    assert at.title[0].value == "Ask your documents"  # the empty screen is gone
    assert "items in" in texts(at.sidebar.markdown)
    at.button(key="dismiss_job").click().run()
    assert "Ingest finished" not in texts(at.success)

    # uploads: a note and a broken calendar; the good one is stored, the bad one reported
    note = b"# Garage\n\nThe spare key for the garage is under the blue flowerpot by the shed.\n"
    at.file_uploader(key="side_upload").set_value(
        [
            ("garage-key.md", note, "text/markdown"),
            ("../../broken.ics", b"BEGIN:VCALENDAR\nthis is not ical", "text/calendar"),
        ]
    )
    at.button(key="side_go").click().run()
    wait_for_ingest(at)
    assert "Ingest finished" in texts(at.success)
    assert "broken.ics" in texts(at.warning)  # the failure is listed by name
    assert (tmp_path / "store-uploads" / "garage-key.md").is_file()
    assert not (tmp_path / "broken.ics").exists()  # the upload name cannot climb out of uploads/
    ask(at, "Where is the spare garage key?")
    assert "flowerpot" in texts(at.main.markdown)
    assert any("garage-key.md" in e.label for e in at.expander)


@pytest.mark.slow
def test_ask_streams_an_answer_with_source_cards(on_sample):
    at = page()
    assert at.title[0].value == "Ask your documents"
    ask(at, "When is my dentist appointment?")
    answer = at.chat_message[1].markdown[0].value
    assert "19 March" in answer
    assert answer.startswith(
        "**Thursday 19 March 2026 at 15:00**"
    )  # the span that answers, in bold
    found = cards(at)
    assert found and found[0].label.startswith("✉️ [1]") and "Smile Dental" in found[0].label
    first = found[0]
    assert ":orange-background[appointment]" in texts(first.markdown)  # question words highlighted
    assert "appointments@smiledental.example" in texts(first.caption)
    # read the whole message, and download it (a Maildir message is its own file)
    first.toggle[0].set_value(True).run()
    first = [e for e in at.expander if e.label.startswith("✉️ [1]")][0]
    assert "Dr. Emma Hughes" in texts(first.markdown)
    assert first.get("download_button")

    # the whole conversation, oldest first: the booking and its rescheduling reply
    before = len(first.markdown)
    first.toggle[1].set_value(True).run()
    first = [e for e in at.expander if e.label.startswith("✉️ [1]")][0]
    assert len(first.markdown) >= before + 4  # at least two messages: a header and a text each
    assert "Re: Your appointment" in texts(first.markdown)

    # a follow-up uses the conversation; details show timings and scores
    at.toggle(key="o_details").set_value(True).run()
    ask(at, "And who is it with?")
    assert len(at.chat_message) == 4
    details = texts(at.caption)
    assert "retrieval" in details and " ms" in details and "scores:" in details
    assert "searched for" in details and "dentist" in details.lower()
    # new conversation
    at.button(key="new_chat").click().run()
    assert not at.chat_message


@pytest.mark.slow
def test_filters_change_the_results(on_sample):
    at = page()
    ask(at, "dentist appointment")
    unfiltered = [e.label for e in cards(at)]
    assert unfiltered[0].startswith("✉️")

    at = page()
    at.multiselect(key="f_kinds").set_value(["event"]).run()
    ask(at, "dentist appointment")
    labels = [e.label for e in cards(at)]
    assert labels and all(lab.startswith("📅") for lab in labels), labels
    assert "kind: event" in texts(at.caption)

    at = page()
    at.text_input(key="f_sender").set_value("Linda").run()
    at.date_input(key="f_since").set_value(__import__("datetime").date(2026, 3, 1)).run()
    ask(at, "birthday dinner")
    caption = texts(at.caption)
    assert "from: Linda" in caption and "dates:" in caption
    labels = [e.label for e in at.expander if e.label.startswith("✉️")]
    assert labels and all("Linda" in lab for lab in labels), labels

    at = page()
    at.text_input(key="f_sender").set_value("Nobody Atall").run()
    ask(at, "birthday dinner")
    assert "no sender matches" in texts(at.error)


@pytest.mark.slow
def test_glance_panel_with_a_frozen_now(on_sample, monkeypatch):
    at = page()
    body = glance_text(at)
    assert "Today, Wed 11 Mar" in body
    assert "**09:30** Atlas team stand-up" in body
    assert "Mum's birthday dinner" in body
    assert "Open to-dos \\(15\\)" in body
    todo_lines = [ln for ln in body.splitlines() if "— due" in ln]
    assert todo_lines[0].startswith("- Send both contractor quotes to Ben")
    assert "overdue" not in body  # nothing is overdue on the 11th at 9:00

    monkeypatch.setenv("PDQ_NOW", "2026-03-16T12:00:00")  # a later day: new settings, same process
    at = page()
    body = glance_text(at)
    assert "Today, Mon 16 Mar" in body and "Atlas sprint review" in body
    assert "Send both contractor quotes to Ben — due Wed 11 Mar :red[overdue]" in body


@pytest.mark.slow
def test_stored_html_and_markdown_are_shown_as_text(tmp_path, monkeypatch, real_embedder):
    from ingest.core.settings import load_settings
    from ingest.pipeline import ingest_paths

    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "evil.eml").write_bytes(
        b"From: Mallory <mallory@evil.example>\r\nTo: sam@carter.example\r\n"
        b"Subject: <script>alert('subject')</script> Invoice overdue\r\nDate: Mon, 09 Mar 2026 10:00:00 +0000\r\n"
        b"Message-ID: <evil@evil.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Your invoice is overdue <script>alert('body')</script> <img src=x onerror=alert(1)>\r\n"
        b"![pixel](http://tracker.evil.example/p.png) pay $5 and $10 now **urgent** [click](http://evil.example)\r\n"
    )
    store = tmp_path / "store"
    s = load_settings(store=store, timezone="Europe/London")
    assert ingest_paths([mail], s, embedder=real_embedder).failed == 0
    monkeypatch.setenv("PDQ_STORE", str(store))
    monkeypatch.setenv("PDQ_NOW", NOW)
    monkeypatch.setenv("PDQ_LLM_BACKEND", "extractive")
    at = page()
    ask(at, "Is the invoice overdue?")
    cards(at)[0].toggle[0].set_value(True).run()
    shown = "\n".join([texts(at.markdown), texts(at.caption), *(e.label for e in at.expander)])
    assert "&lt;script&gt;alert" in shown  # shown, as text
    assert "<script" not in shown and "<img" not in shown
    assert "![pixel](http" not in shown and "\\!\\[pixel\\]\\(http" in shown  # no image fetch
    assert "\\$5 and \\$10" in shown  # not LaTeX
    assert "\\*\\*urgent\\*\\*" in shown
    assert not at.get("html") and not at.exception


@pytest.mark.slow
def test_store_built_with_another_model_is_a_clear_message(tmp_path, monkeypatch, hash_embedder):
    from ingest.core.settings import load_settings
    from ingest.pipeline import ingest_paths

    store = tmp_path / "store"
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# Plants\n\nWater the plants on Sunday.\n")
    ingest_paths([notes], load_settings(store=store), embedder=hash_embedder)
    monkeypatch.setenv("PDQ_STORE", str(store))
    monkeypatch.setenv("PDQ_LLM_BACKEND", "extractive")
    at = page()
    ask(at, "When do I water the plants?")
    err = texts(at.error)
    assert "was built with embedding model 'test-hash-embedder'" in err and "--rebuild" in err
    assert not at.exception


@pytest.mark.slow
def test_missing_language_model_falls_back_with_a_note(on_sample, monkeypatch, tmp_path):
    monkeypatch.setenv("PDQ_LLM_BACKEND", "transformers")
    monkeypatch.setenv("PDQ_LLM_MODEL", str(tmp_path / "no-model-here"))
    at = page()
    ask(at, "When is my dentist appointment?")
    assert "cannot load the language model" in texts(at.warning)
    assert "19 March" in at.chat_message[1].markdown[0].value  # still answered, from the passages
    assert not at.exception


@pytest.mark.slow
def test_models_load_once_per_process(on_sample, monkeypatch, tmp_path):
    """Two browser sessions, three questions: one embedding model, one Assistant."""
    import rag.assistant

    calls = []
    real = rag.assistant.make_embedder

    def counting(settings):
        calls.append(settings.store)
        return real(settings)

    monkeypatch.setattr(rag.assistant, "make_embedder", counting)
    copy = tmp_path / "store-copy"  # a store no earlier test used: a fresh cache entry
    shutil.copytree(on_sample, copy)
    monkeypatch.setenv("PDQ_STORE", str(copy))
    first, second = page(), page()
    ask(first, "When is my dentist appointment?")
    ask(first, "What did Linda say about the birthday dinner?")
    ask(second, "Where is the budget review?")
    assert len(calls) == 1
    assert "Orion" in texts(second.main.markdown)


def test_render_helpers_escape_and_highlight():
    from webui import render

    assert render.md("<b>hi</b> *x* $1") == "&lt;b&gt;hi&lt;/b&gt; \\*x\\* \\$1"
    out = render.highlight("Moved the <appointment> to Thursday", "when is the appointment")
    assert ":orange-background[appointment]" in out and "&lt;" in out and "Thursday" in out
    assert ":orange-background[Thursday]" not in out


def test_uploads_are_saved_inside_the_store(tmp_path):
    from webui.jobs import save_uploads

    saved = save_uploads(
        tmp_path / "store", [("../../etc/passwd", b"x"), ("a\\b\\c.txt", b"y"), ("..", b"z")]
    )
    assert [p.name for p in saved] == ["passwd", "c.txt", "upload"]
    assert all(p.parent == tmp_path / "store-uploads" for p in saved)
    assert (tmp_path / "store-uploads").stat().st_mode & 0o777 == 0o700


def test_merge_chunks_removes_the_overlap():
    from rag.item_view import merge_chunks

    assert (
        merge_chunks(["para one\npara two\npara three", "para three\npara four"])
        == "para one\npara two\npara three\npara four"
    )
    assert (
        merge_chunks(["the quick brown fox jumps over", "fox jumps over the lazy dog"])
        == "the quick brown fox jumps over the lazy dog"
    )
    assert merge_chunks(["alpha", "beta"]) == "alpha\nbeta"


@pytest.mark.slow
def test_glance_and_item_api(sample_assistant):
    from tests.conftest import SAMPLE_NOW

    g = sample_assistant.glance(now=SAMPLE_NOW)
    assert [e.title for e in g.today] == ["Atlas team stand-up"]
    assert "Mum's birthday dinner" in [e.title for e in g.upcoming]
    assert all(
        SAMPLE_NOW.date() < e.date.date() <= (SAMPLE_NOW.date().replace(day=18)) for e in g.upcoming
    )
    dues = [t.date for t in g.todos if t.date]
    assert dues == sorted(dues) and not any(g.overdue(t) for t in g.todos)
    hit = sample_assistant.search("dentist appointment moved", k=1)[0]
    view = sample_assistant.item(hit.item_id)
    assert view is not None and "Dr. Emma Hughes" in view.text and view.file is not None
    assert sample_assistant.item("no-such-item") is None


assert SAMPLE.is_dir()


def test_keep_in_sync_toggle_follows_the_folders(tmp_path, monkeypatch, hash_embedder):
    """The sidebar's "Keep in sync" starts a watcher on the store's folders; a new note shows up
    without an ingest; switching it off stops the watcher."""
    import threading
    import time

    from ingest.core.settings import load_settings
    from ingest.pipeline import ingest_paths
    from ingest.store import Store

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# Shed\n\nThe shed key is under the blue pot.\n")
    store = tmp_path / "store"
    ingest_paths([notes], load_settings(store=store), embedder=hash_embedder)
    monkeypatch.setenv("PDQ_STORE", str(store))
    monkeypatch.setattr("rag.assistant.make_embedder", lambda settings: hash_embedder)

    def watching() -> bool:
        return any(t.name == "pdq-watch" and t.is_alive() for t in threading.enumerate())

    def stored() -> int:
        s = Store.open(store, create=False)
        try:
            return len(s.chunks_where(None))
        finally:
            s.close()

    at = page()
    at.toggle(key="o_keep_in_sync").set_value(True).run()
    assert watching() and "Watching" in texts(at.sidebar.caption)
    (notes / "b.md").write_text("# Bike\n\nThe bike lock code is 4411.\n")
    end = time.monotonic() + 30
    while time.monotonic() < end and stored() < 2:
        time.sleep(0.2)
    assert stored() == 2
    at.toggle(key="o_keep_in_sync").set_value(False).run()
    end = time.monotonic() + 30
    while time.monotonic() < end and watching():
        time.sleep(0.2)
    assert not watching()


def _everything(at) -> str:
    """Every text the page drew, whatever the element."""
    parts = [
        e.value
        for kind in ("title", "markdown", "caption", "info", "warning", "error")
        for e in getattr(at, kind)
    ]
    parts += [e.label for e in at.expander] + [e.value for e in at.sidebar.markdown]
    return "\n".join(str(p) for p in parts)


@pytest.mark.slow
def test_the_page_is_locked_without_its_token(on_sample, monkeypatch):
    """No token or a wrong one: a locked screen and nothing of the store; the right one opens."""
    from webui import token as page_token

    monkeypatch.delenv("PDQ_PAGE_TOKEN")
    for given in (None, "wrong-token"):
        at = AppTestFor(given)
        seen = _everything(at)
        assert at.title[0].value == "🔒 pdq is locked"
        assert "Smile Dental" not in seen and "items in" not in seen and "At a glance" not in seen
        assert not at.chat_input and not at.sidebar.markdown
    good = page_token.load(on_sample)
    at = AppTestFor(good)
    assert at.title[0].value == "Ask your documents"
    assert "At a glance" in _everything(at) or at.chat_input


def AppTestFor(token):  # noqa: N802 - reads like the class it builds
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=240)
    if token is not None:
        at.query_params["token"] = token
    at.run()
    assert not at.exception, at.exception
    return at


def test_token_file_is_private_and_rotates(tmp_path):
    from webui import token as page_token

    first = page_token.load(tmp_path)
    assert len(first) >= 32 and page_token.load(tmp_path) == first
    assert (page_token.token_file(tmp_path).stat().st_mode & 0o777) == 0o600
    second = page_token.load(tmp_path, rotate=True)
    assert second != first and page_token.load(tmp_path) == second
    assert page_token.matches(second, second) and not page_token.matches(first, second)
    assert not page_token.matches("", second) and not page_token.matches(None, second)
