"""A question must be one: empty or blank is a clear error (CLI exit 2 with one line, API
ValueError, a hint on the page); a pasted mail is cut to what the models read, saying so."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rag.cli import app
from rag.question import MAX_QUESTION_CHARS, checked


@pytest.mark.parametrize("q", ["", "   ", "\n\t"])
def test_empty_question_is_a_value_error(q):
    with pytest.raises(ValueError, match="question is empty"):
        checked(q)


def test_long_question_is_cut_and_said():
    q = "Please read this. " + "word " * 2000
    cut, note = checked(q)
    assert len(cut) <= MAX_QUESTION_CHARS and cut.startswith("Please read this.")
    assert "cut to its first" in note
    assert checked("When is my dentist appointment?") == ("When is my dentist appointment?", "")


@pytest.mark.parametrize("cmd", [["ask", ""], ["ask", "   "], ["search", ""]])
def test_cli_refuses_an_empty_question_with_one_line(cmd, tmp_path):
    r = CliRunner().invoke(app, [*cmd, "--store", str(tmp_path / "store")])
    assert r.exit_code == 2
    assert r.output.strip().startswith("pdq: error: give")
    assert len(r.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_api_refuses_empty_and_cuts_long_questions(sample_assistant):
    with pytest.raises(ValueError):
        sample_assistant.ask("  ")
    with pytest.raises(ValueError):
        sample_assistant.search("")
    pasted = "When is my dentist appointment? " + "Lorem ipsum dolor sit amet. " * 200
    answer = sample_assistant.ask(pasted, backend="extractive")
    assert any("cut to its first" in w for w in answer.warnings)
    assert answer.sources
