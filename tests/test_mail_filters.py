"""Filters on what ingest stores about mail: recipients (``to``), folder, thread, subject — in the
API, the CLI and read from a question ("what did I send to Anna?")."""

from __future__ import annotations

import json

import pytest

from rag.filters import Filters, from_user

MAIL = {
    "kind": "email",
    "title": "Re: Q2 budget: first numbers",
    "to": "Anna Lee <anna.lee@northwind.example>",
    "cc": "Ben Okafor <ben.okafor@northwind.example>",
    "folder": "Work",
    "folders": "Work; INBOX",
    "thread_id": "thread:abc",
    "from_addr": "sam@carter.example",
}


def test_match_and_parse():
    f = from_user({"to": "Ben", "folder": "inbox", "subject": "budget"}, "UTC")
    assert f.recipients == ("ben",) and f.folders == ("inbox",) and f.subject == "budget"
    assert f.match(MAIL) and not f.is_empty() and f.beyond_where
    assert not Filters(recipients=("linda",)).match(MAIL)
    assert not Filters(folders=("Family",)).match(MAIL)
    assert Filters(thread_id="thread:abc").match(MAIL)
    assert Filters(thread_id="thread:abc").where() == {"thread_id": "thread:abc"}
    assert not Filters(subject="invoice").match(MAIL)
    assert from_user({"to": "Ben"}, "UTC").describe() == {"to": "ben"}


def to_or_cc(source, who: str) -> bool:
    return who in f"{source.meta.get('to') or ''} {source.meta.get('cc') or ''}".lower()


@pytest.mark.slow
def test_filters_on_the_sample_store(sample_assistant):
    a = sample_assistant
    to_anna = a.search("lunch budget", k=10, filters={"to": "anna"})
    assert to_anna and all(to_or_cc(s, "anna") for s in to_anna)
    work = a.search("budget", k=10, filters={"folder": "Work"})
    assert work and all("Work" in (s.meta.get("folders") or s.meta.get("folder")) for s in work)
    assert not a.search("budget", k=10, filters={"folder": "No such folder"})
    subject = a.search("numbers", k=10, filters={"subject": "Q2 budget"})
    assert subject and all("q2 budget" in s.title.lower() for s in subject)
    thread = subject[0].thread_id
    conv = a.search("budget", k=20, filters={"thread": thread})
    assert conv and {s.thread_id for s in conv} == {thread}


@pytest.mark.slow
def test_what_did_i_send_to_anna(sample_assistant):
    answer = sample_assistant.ask("What did I send to Anna?", backend="extractive")
    assert "to" in answer.filters
    assert answer.sources
    assert all(to_or_cc(s, "anna") for s in answer.sources)
    assert any("anna" in (s.meta.get("to") or "").lower() for s in answer.sources)


@pytest.mark.slow
def test_cli_filter_options(sample_store):
    from typer.testing import CliRunner

    from rag.cli import app

    r = CliRunner().invoke(
        app,
        ["search", "budget", "--store", str(sample_store), "--to", "anna", "--json", "-k", "5"],
        env={"PDQ_TIMEZONE": "Europe/London"},
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["filters"] == {"to": "anna"} and out["sources"]


@pytest.mark.slow
def test_conversation_is_the_whole_thread_in_order(sample_assistant):
    a = sample_assistant
    hit = a.search("Q2 budget first numbers", k=3, filters={"kind": "email"})[0]
    conv = a.conversation(hit.thread_id)
    assert len(conv) >= 2 and {s.thread_id for s in conv} == {hit.thread_id}
    assert [s.date for s in conv] == sorted(s.date for s in conv)
