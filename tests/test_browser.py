"""The page for real: ``pdq ui`` serves it headless on a free loopback port and Debian's Chromium,
driven by Playwright, asks a question and waits for the streamed answer and its source cards.
The page must only ever talk to 127.0.0.1, and nothing stored may run as script."""

from __future__ import annotations

import os

import pytest

from tests.browser import ask_in_browser, find_chromium
from tests.conftest import SAMPLE_NOW


@pytest.mark.slow
def test_real_browser_asks_and_sees_sources(sample_store, tmp_path):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip(
            "chromium not found (make test installs Debian's chromium; apt-get install chromium)"
        )
    env = dict(
        os.environ,
        PDQ_NOW=SAMPLE_NOW.strftime("%Y-%m-%dT%H:%M:%S"),
        PDQ_TIMEZONE="Europe/London",
        HF_HUB_OFFLINE="1",
    )
    shot = tmp_path / "page.png"
    run = ask_in_browser(
        sample_store, "When is my dentist appointment?", shot, env=env, chromium=chromium
    )
    assert run.answer.strip(), run.server_log[-2000:]
    assert run.cards and any("Smile Dental" in c for c in run.cards), run.cards
    assert "At a glance" in run.glance and "Today, Wed 11 Mar" in run.glance
    assert shot.stat().st_size > 20_000
    outside = [
        u
        for u in run.requests
        if not u.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
    ]
    assert not outside, outside  # no usage statistics, fonts or anything else from outside
    assert not run.dialogs
    assert "Traceback" not in run.server_log, run.server_log[-3000:]


@pytest.mark.slow
def test_real_browser_without_the_token_sees_nothing_of_the_store(sample_store):
    """A browser session with a wrong token gets the locked screen; neither the page nor any
    websocket message carries anything from the store."""
    from tests.browser import locked_in_browser

    chromium = find_chromium()
    if chromium is None:
        pytest.skip("chromium not found (make test installs Debian's chromium)")
    env = dict(os.environ, PDQ_TIMEZONE="Europe/London", HF_HUB_OFFLINE="1")
    env.pop("PDQ_PAGE_TOKEN", None)
    text, frames = locked_in_browser(sample_store, env=env, chromium=chromium)
    assert "pdq is locked" in text and frames
    seen = text + "\n".join(frames)
    for secret in ("Smile Dental", "dentist", "Anna Lee", "Sam Carter", "At a glance", "items in"):
        assert secret not in seen, secret
