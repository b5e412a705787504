"""Drive the real page in a real browser: start ``pdq ui`` headless on a free loopback port, open
it in Debian's Chromium through Playwright, ask a question, wait for the answer and its source
cards, save a screenshot, and record every URL the page asked for.

Used by ``tests/test_browser.py`` and by ``make screenshot`` (which writes docs/screenshot.png):

    python -m tests.browser --store .pdq-demo/store --out docs/screenshot.png
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
]


def find_chromium() -> str | None:
    for name in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.access(name, os.X_OK):
            return name
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PageRun:
    answer: str = ""
    cards: list[str] = field(default_factory=list)
    glance: str = ""
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    server_log: str = ""
    seconds: float = 0.0


def serve(store: Path, port: int, env: dict[str, str]) -> subprocess.Popen:
    pdq = Path(sys.executable).with_name("pdq")
    cmd = [str(pdq), "ui", "--no-open", "--port", str(port), "--store", str(store)]
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen) -> str:
    """Stop ``pdq ui`` and the Streamlit server it started; return what they printed."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = proc.communicate()
    return out or ""


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"pdq ui exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"pdq ui did not listen on {port} within {timeout}s")


def locked_in_browser(
    store: Path, env: dict[str, str] | None = None, chromium: str | None = None
) -> tuple[str, list[str]]:
    """Serve ``store`` and open the page without its token: (the page's visible text once it
    has drawn, every websocket frame the server sent), to show nothing of the store leaks."""
    from playwright.sync_api import sync_playwright

    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("chromium not found")
    frames: list[str] = []
    port = free_port()
    proc = serve(store, port, dict(os.environ if env is None else env))
    try:
        wait_for_port(port, proc)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium, args=CHROMIUM_FLAGS, timeout=60_000
            )
            page = browser.new_page()
            page.on(
                "websocket",
                lambda ws: ws.on(
                    "framereceived",
                    lambda f: frames.append(f if isinstance(f, str) else f.decode("latin-1")),
                ),
            )
            page.goto(
                f"http://127.0.0.1:{port}/?token=not-the-token", wait_until="domcontentloaded"
            )
            page.get_by_text("pdq is locked").wait_for(timeout=120_000)
            page.wait_for_timeout(1500)
            text = page.inner_text("body") + page.content()
            browser.close()
    finally:
        stop(proc)
    return text, frames


def ask_in_browser(
    store: Path,
    question: str,
    shot: Path,
    env: dict[str, str] | None = None,
    chromium: str | None = None,
    timeout_s: float = 240,
) -> PageRun:
    """Serve ``store``, ask ``question`` in Chromium, wait for the answer and its sources,
    save a full-page screenshot to ``shot``."""
    from playwright.sync_api import sync_playwright

    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("chromium not found")
    run = PageRun()
    port = free_port()
    proc = serve(store, port, dict(os.environ if env is None else env))
    t0 = time.time()
    try:
        wait_for_port(port, proc)
        with sync_playwright() as pw:
            # Playwright gives the browser a fresh temporary profile of its own
            browser = pw.chromium.launch(
                executable_path=chromium, args=CHROMIUM_FLAGS, timeout=60_000
            )
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.on("request", lambda r: run.requests.append(r.url))
            page.on("dialog", lambda d: (run.dialogs.append(d.message), d.dismiss()))
            from webui import token as page_token

            token = page_token.load(store)  # what `pdq ui` printed in its link
            page.goto(f"http://127.0.0.1:{port}/?token={token}", wait_until="domcontentloaded")
            box = page.get_by_test_id("stChatInputTextArea")
            box.wait_for(timeout=timeout_s * 1000)
            page.get_by_text("At a glance").wait_for(timeout=60_000)
            box.fill(question)
            box.press("Enter")
            # the answer is done when its source cards are drawn under it
            page.locator("[data-testid='stChatMessage'] [data-testid='stExpander']").first.wait_for(
                timeout=timeout_s * 1000
            )
            page.wait_for_timeout(800)
            messages = page.locator("[data-testid='stChatMessage']")
            run.answer = (
                messages.nth(1).locator("[data-testid='stMarkdownContainer']").first.inner_text()
            )
            run.cards = [
                c.inner_text()
                for c in page.locator(
                    "[data-testid='stChatMessage'] [data-testid='stExpander'] summary"
                ).all()
            ]
            run.glance = (
                page.locator("[data-testid='stColumn']")
                .filter(has_text="At a glance")
                .last.inner_text()
            )
            first = page.locator(
                "[data-testid='stChatMessage'] [data-testid='stExpander'] summary"
            ).first
            first.click()
            page.wait_for_timeout(500)
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=False)
            browser.close()
    finally:
        run.seconds = time.time() - t0
        run.server_log = stop(proc)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--question", default="When is my dentist appointment?")
    ap.add_argument("--out", type=Path, default=Path("docs/screenshot.png"))
    args = ap.parse_args()
    run = ask_in_browser(args.store, args.question, args.out)
    print(
        f"answer: {run.answer}\nsources: {len(run.cards)}\nscreenshot: {args.out} ({run.seconds:.1f}s)"
    )
    outside = [u for u in run.requests if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]
    print(f"requests: {len(run.requests)}, outside loopback: {outside or 'none'}")


if __name__ == "__main__":
    main()
