"""The pdq CLI: in-process (Typer's runner) and once for real in a subprocess."""

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from rag.cli import app

from .conftest import ROOT, SAMPLE

runner = CliRunner()


def test_help_lists_commands():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "ingest" in r.output and "status" in r.output


def test_bad_path_is_a_one_line_error(tmp_path):
    r = runner.invoke(app, ["ingest", "/no/such/folder", "--store", str(tmp_path / "s")])
    assert r.exit_code == 1
    assert r.output.strip() == "pdq: error: no such file or folder: /no/such/folder"


def test_status_of_an_empty_store(tmp_path):
    r = runner.invoke(app, ["status", "--store", str(tmp_path / "none")])
    assert r.exit_code == 0 and "No pdq store" in r.output and "pdq ingest" in r.output


def test_dry_run_json(tmp_path):
    r = runner.invoke(
        app,
        ["ingest", str(SAMPLE / "notes"), "--dry-run", "--json", "--store", str(tmp_path / "s")],
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert (
        data["dry_run"] is True
        and data["items"]["note"]["found"] == 4
        and data["chunks_planned"] > 4
    )


@pytest.mark.slow
def test_ingest_then_status_with_the_real_model(tmp_path):
    store = str(tmp_path / "s")
    r = runner.invoke(
        app,
        ["ingest", str(SAMPLE), "--store", store, "--json"],
        env={"PDQ_NOW": "2026-03-11T09:00:00", "PDQ_TIMEZONE": "Europe/London"},
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["totals"]["new"] == data["totals"]["found"] > 100 and data["failed"] == []
    r = runner.invoke(app, ["status", "--store", store, "--json"])
    st = json.loads(r.stdout)
    assert st["items"]["email"] == 49 and st["chunks"] == st["chroma_chunks"] > 100
    assert (
        st["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
        and st["embedding_dim"] == 384
    )


@pytest.mark.slow
def test_real_subprocess_run(tmp_path):
    """The installed console script, as a person runs it."""
    env = {**os.environ, "PDQ_STORE": str(tmp_path / "s")}
    exe = os.path.join(os.path.dirname(sys.executable), "pdq")
    out = subprocess.run(
        [exe, "ingest", str(SAMPLE / "notes"), str(SAMPLE / "todo.txt")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "note" in out.stdout and "failed: 0" in out.stdout
    again = subprocess.run(
        [exe, "ingest", str(SAMPLE / "notes"), str(SAMPLE / "todo.txt")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "0 embedded" in again.stdout
    bad = subprocess.run(
        [exe, "ingest", "/nope"], env=env, capture_output=True, text=True, timeout=120
    )
    assert (
        bad.returncode == 1
        and bad.stderr.strip() == "pdq: error: no such file or folder: /nope"
        and "Traceback" not in bad.stderr
    )


@pytest.mark.slow
def test_ask_search_eval_chat_in_process(sample_store):
    base = ["--store", str(sample_store)]
    r = runner.invoke(
        app,
        [
            "ask",
            "When is my dentist appointment?",
            *base,
            "--backend",
            "extractive",
            "--now",
            "2026-03-11T09:00:00",
            "--json",
        ],
        env={"PDQ_TIMEZONE": "Europe/London"},
    )
    assert r.exit_code == 0, r.output
    ans = json.loads(r.stdout)
    assert "19 March" in ans["text"] and ans["sources"][0]["cited"]
    r = runner.invoke(
        app,
        ["ask", "What is on my calendar next week?", *base, "--now", "2026-03-11T09:00:00"],
        env={"PDQ_TIMEZONE": "Europe/London"},
    )
    assert (
        r.exit_code == 0
        and "Atlas sprint review" in r.stdout
        and "filters: dates: 2026-03-16 to 2026-03-22" in r.stdout
    )
    r = runner.invoke(app, ["search", "boiler invoice", *base, "-k", "3", "--kind", "email"])
    assert r.exit_code == 0 and "filters: kind: email" in r.stdout and "dense=" in r.stdout
    r = runner.invoke(
        app,
        ["eval", str(SAMPLE / "questions.jsonl"), *base, "--no-answers"],
        env={"PDQ_TIMEZONE": "Europe/London"},
    )
    assert r.exit_code == 0 and "| hybrid | **all** |" in r.stdout
    r = runner.invoke(
        app,
        ["chat", *base, "--backend", "extractive", "--now", "2026-03-11T09:00:00"],
        input="When is Mum's birthday dinner?\nWhere is it?\n\n",
        env={"PDQ_TIMEZONE": "Europe/London"},
    )
    assert r.exit_code == 0 and r.stdout.count("pdq> ") == 2 and "Luigi" in r.stdout


def test_ask_without_a_store_is_one_line(tmp_path):
    r = runner.invoke(
        app, ["ask", "anything", "--store", str(tmp_path / "none"), "--backend", "extractive"]
    )
    assert r.exit_code == 1 and "pdq ingest" in r.output and "Traceback" not in r.output


def test_ask_colours_the_span_that_answers_on_a_terminal(sample_store):
    args = [
        "ask",
        "When is my dentist appointment?",
        "--store",
        str(sample_store),
        "--now",
        "2026-03-11T09:00:00",
    ]
    env = {"PDQ_TIMEZONE": "Europe/London"}
    coloured = runner.invoke(app, args, env=env, color=True)
    assert coloured.exit_code == 0, coloured.output
    assert (
        "\x1b[33m\x1b[1mThursday 19 March 2026 at 15:00\x1b[0m — “Your appointment has been moved"
        in coloured.stdout
    )
    plain = runner.invoke(app, args, env=env)  # not a terminal: no escape codes
    assert (
        plain.stdout.startswith("Thursday 19 March 2026 at 15:00 — “")
        and "\x1b[" not in plain.stdout
    )
