"""Real servers on loopback for the scale-out tests: a Chroma server (`chroma run`, which ships
with chromadb) and llama.cpp's OpenAI-compatible server (`llama-cpp-python[server]`, installed by
`make model-server`) serving the packaged SmolLM2 GGUF. Each starts on a free port and is stopped
with its whole process group."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"server not ready at {url} after {timeout:.0f}s: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    """`chroma run --path PATH --host 127.0.0.1 --port FREE`; yields its URL."""
    port = free_port()
    log = path.parent / "chroma-server.log"
    chroma = Path(sys.executable).with_name("chroma")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc, 60, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


def llama_cpp_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


@contextmanager
def llama_server(
    gguf: Path, log: Path, *, embedding: bool = False, alias: str = "smollm2"
) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server on a free loopback port; yields its /v1 base URL."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        alias,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_threads",
        "2",
        "--verbose",
        "false",
    ]
    if embedding:
        cmd += ["--embedding", "true"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(os.environ, HF_HUB_OFFLINE="1"),
        )
    try:
        _wait(f"http://127.0.0.1:{port}/v1/models", proc, 120, log)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        _stop(proc)


def models(url: str) -> list[str]:
    with urllib.request.urlopen(f"{url}/models", timeout=5) as r:
        return [m["id"] for m in json.load(r)["data"]]


@contextmanager
def silent_server() -> Iterator[str]:
    """A real socket that accepts connections and never answers: a hung model server."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}/v1"
    finally:
        srv.close()
