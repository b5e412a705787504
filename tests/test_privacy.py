"""The offline promise, proven: a full ``pdq ingest sample_docs``, ``pdq ask`` with the real local
model, the page's ask flow (in-process AppTest) and the served page driven by a real browser run
in subprocesses whose socket layer refuses and records every connection, UDP send and name lookup
outside loopback. The environment is stripped of every offline/no-telemetry switch first, so
what is proven is pdq's own defaults, not the test setup. Also: logs hold no message bodies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE, SAMPLE_NOW

HOOK = textwrap.dedent('''
    """Installed through PYTHONPATH in every Python process of the test (pdq, streamlit, ...)."""
    import ipaddress, json, os, socket, sys

    _LOG = os.environ.get("PDQ_NET_LOG")

    def _loopback(host):
        if host is None:
            return True
        if isinstance(host, bytes):
            host = host.decode()
        host = str(host)
        if host in ("localhost", "", "0.0.0.0", "::"):
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False

    def _hook(event, args):
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            sock, addr = args[0], args[-1]
            if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
                return
            host = addr[0] if isinstance(addr, tuple) else None
        elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
            host = args[0]
        else:
            return
        if _loopback(host):
            return
        with open(_LOG, "a") as f:
            f.write(json.dumps({"event": event, "host": str(host), "argv": sys.argv[:3]}) + "\\n")
        raise PermissionError(f"network access outside loopback refused by the test: {event} {host}")

    if _LOG:
        sys.addaudithook(_hook)
''')

PAGE_FLOW = textwrap.dedent("""
    import os, sys
    from streamlit.testing.v1 import AppTest
    from webui import token
    at = AppTest.from_file(sys.argv[1], default_timeout=300)
    at.query_params["token"] = token.load(os.environ["PDQ_STORE"])  # the link pdq ui prints
    at.run()
    at.chat_input[0].set_value("When is my dentist appointment?").run()
    assert not at.exception, at.exception
    answer = at.chat_message[1].markdown[0].value
    print("PAGE ANSWER:", answer)
    assert answer.strip()
""")

STRIP = (
    "HF_",
    "TRANSFORMERS_",
    "DO_NOT_TRACK",
    "ANONYMIZED_TELEMETRY",
    "CHROMA_",
    "STREAMLIT_",
    "SCARF_",
    "UNSTRUCTURED_",
    "TOKENIZERS_",
)


def clean_env(tmp_path: Path, log: Path) -> dict[str, str]:
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir(exist_ok=True)
    (hook_dir / "sitecustomize.py").write_text(HOOK)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(STRIP) and not k.startswith("PDQ_")
    }
    env.update(
        PYTHONPATH=str(hook_dir),
        PDQ_NET_LOG=str(log),
        PDQ_STORE=str(tmp_path / "store"),
        PDQ_CONFIG=str(tmp_path / "none.toml"),
        PDQ_TIMEZONE="Europe/London",
        PDQ_NOW=SAMPLE_NOW.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    return env


def run(cmd: list[str], env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def pdq() -> str:
    return str(Path(sys.executable).with_name("pdq"))


def test_the_detector_catches_an_outside_connection(tmp_path):
    """Without this, the test below could pass because the hook never ran."""
    log = tmp_path / "net.jsonl"
    env = clean_env(tmp_path, log)
    code = "import socket\ntry:\n  socket.create_connection(('192.0.2.1', 80), timeout=1)\nexcept OSError as e:\n  print(e)"
    out = run([sys.executable, "-c", code], env)
    assert "refused by the test" in out.stdout
    assert json.loads(log.read_text().splitlines()[0])["host"] == "192.0.2.1"


@pytest.mark.slow
def test_ingest_ask_and_page_open_no_connection_beyond_loopback(tmp_path):
    log = tmp_path / "net.jsonl"
    env = clean_env(tmp_path, log)
    ingest = run([pdq(), "ingest", str(SAMPLE)], env)
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    # the default answer path (direct answers on a CPU machine), then the real local model through
    # transformers (SmolLM2): loading a model is where a hub call would happen
    for backend in ([], ["--backend", "transformers"]):
        ask = run([pdq(), "ask", "When is my dentist appointment?", "--json", *backend], env)
        assert ask.returncode == 0, ask.stderr[-3000:]
        answer = json.loads(ask.stdout)
        assert answer["text"].strip() and not answer["abstained"]
        given = {s["title"] for s in answer["sources"] if s["n"]}  # what the model was given
        assert "Re: Your appointment at Smile Dental Care" in given, given
    assert answer["backend"].startswith("SmolLM2") or answer["backend_fallback"] == "extractive"
    page = run([sys.executable, "-c", PAGE_FLOW, str(ROOT / "webui" / "app.py")], env)
    assert page.returncode == 0, (page.stdout + page.stderr)[-3000:]

    from tests.browser import ask_in_browser, find_chromium

    if find_chromium():  # the served page: Streamlit's server start-up is where it would phone home
        served = ask_in_browser(
            tmp_path / "store",
            "What did Linda say about the birthday dinner?",
            tmp_path / "shot.png",
            env=env,
        )
        assert served.cards
        assert not [
            u
            for u in served.requests
            if not u.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
        ]
    attempts = log.read_text().splitlines() if log.exists() else []
    assert attempts == [], attempts


@pytest.mark.slow
def test_logs_hold_no_message_bodies(tmp_path):
    env = clean_env(tmp_path, tmp_path / "net.jsonl")
    body = "Your appointment has been moved to Thursday 19 March"  # a sentence from a sample mail
    broken = tmp_path / "inbox"
    broken.mkdir()
    (broken / "bad.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    ingest = run([pdq(), "ingest", str(SAMPLE), str(broken)], env)
    assert ingest.returncode == 0
    ask = run(
        [pdq(), "ask", "When is my dentist appointment?", "--backend", "extractive", "--json"], env
    )
    assert body in ask.stdout  # the answer itself may quote it...
    log = (tmp_path / "store" / "ingest.log").read_text()
    assert "bad.pdf" in log  # ...but the log names files and reasons only
    for text in (log, ingest.stdout, ingest.stderr, ask.stderr):
        assert body not in text
