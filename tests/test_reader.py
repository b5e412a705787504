"""Direct answers without a model (rag.reader): the answer type of a question, which sentences
may answer, events and to-dos from metadata, and the check that replaces a small model's
confident wrong answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import Answer, Assistant, answer_types, reader
from rag.answer import Marked, Source, marked_markdown, segments
from rag.grounding import off_source
from rag.prompt import Prompt

from .conftest import SAMPLE_NOW

# --- the answer type of a question (>= 30) ------------------------------------------------------
TYPES = [
    ("When is my dentist appointment?", "date"),
    ("When is the plumber's invoice due?", "date"),
    ("What day is the budget review?", "date"),
    ("Which date did Anna suggest?", "date"),
    ("When was Easter Monday in 2017?", "date"),
    ("What time does my flight to Lyon leave Heathrow?", "time"),
    ("At what time is the offsite?", "time"),
    ("Where is Mum's birthday dinner?", "place"),
    ("Where are we staying in the Peak District?", "place"),
    ("Which hotel am I staying at in Lyon?", "place"),
    ("Which restaurant did Anna pick?", "place"),
    ("Who is organising the offsite?", "person"),
    ("Who sent the invoice?", "person"),
    ("Whom did Ben copy in?", "person"),
    ("How much is the plumber's invoice?", "money"),
    ("What did the plumber charge?", "money"),
    ("How much does the gym cost per month?", "money"),
    ("What is the price of the tickets?", "money"),
    ("What is the rent for the flat?", "money"),
    ("How much is the deposit?", "money"),
    ("How much notice do I need to give to end the tenancy?", "text"),
    ("How much time is left on the project?", "text"),
    ("How many people are coming to the offsite?", "count"),
    ("How many tickets did they sell in 10 days?", "count"),
    ("What is the phone number of the PEP Help Desk?", "phone"),
    ("What is Jeff's mobile?", "phone"),
    ("Which number should I call for support?", "code"),
    ("What is the email address of Mark Taylor?", "email"),
    ("What is my gym membership number?", "code"),
    ("What is my flight booking reference to Lyon?", "code"),
    ("What is the wifi password at the Lyon office?", "code"),
    ("Which password manager is KeyVault compared with?", "text"),
    ("Is the Atlas data pipeline still blocked?", "yesno"),
    ("Did Tom approve the invoice?", "yesno"),
    ("Can I bring a guest to the dinner?", "yesno"),
    ("What did Anna say about the budget last week?", "text"),
    ("What does invoice 4471 cover?", "text"),
    ("Why was the offsite moved?", "text"),
]


def test_the_answer_type_table_has_enough_rows():
    assert len(TYPES) >= 30


@pytest.mark.parametrize("question, kind", TYPES)
def test_answer_type_of_a_question(question, kind):
    assert answer_types.wanted(question) == kind


# --- which sentences may answer -----------------------------------------------------------------
def _mail(body: str, **meta) -> Source:
    m = {
        "kind": "email",
        "item_id": "mail:1",
        "subject": "Re: the plan",
        "from_name": "Anna Lee",
        "from_addr": "anna@x.example",
        "from": "Anna Lee <anna@x.example>",
        "to": "Sam Carter <sam@x.example>",
        "date": 1772802000,
        **meta,
    }
    s = Source.from_chunk("mail:1#0", f"Email from Anna Lee\n{body}", m, "Europe/London")
    s.n = 1
    return s


NOISY = """Hi Sam,

The venue for the offsite is the Brewery Loft on Mill Lane, from 10:00 to 16:00.

On Tue, 10 Mar 2026 at 09:12, Ben Okafor <ben@x.example> wrote:
> Where is the offsite this year? Is it at the Brewery Loft?
-----Original Message-----
From: Ben Okafor
Sent: Monday, March 09, 2026 5:00 PM
Subject: offsite venue
https://maps.example.com/brewery-loft

Thanks,
Anna Lee
Head of Operations, Northwind
Tel +44 20 7946 0018
--
You are receiving this because you are subscribed to the ops mailing list. Unsubscribe: https://lists.example/ops
"""


def test_reply_headers_quotes_signatures_urls_and_footers_are_never_candidates():
    texts = [c.text for c in reader.read(_mail(NOISY), 0) if not c.header]
    assert any("Brewery Loft on Mill Lane" in t for t in texts)
    joined = "\n".join(texts)
    for junk in (
        "wrote:",
        "Original Message",
        "Sent: Monday",
        "https://",
        "Where is the offsite this year",
        "Unsubscribe",
        "Thanks",
    ):
        assert junk not in joined, junk
    sig = [c for c in reader.read(_mail(NOISY), 0) if c.signature]
    assert sig and any(
        "Tel +44" in c.text for c in sig
    )  # kept as evidence for phone questions only


def test_the_fact_sentence_is_chosen_not_the_quoted_question():
    d = reader.answer("Where is the offsite?", [_mail(NOISY)])
    assert (
        "Brewery Loft on Mill Lane" in d.text and "wrote" not in d.text and d.text.endswith("[1]")
    )


def test_a_signature_answers_a_phone_question_but_not_a_text_question():
    d = reader.answer("What is Anna Lee's phone number?", [_mail(NOISY)])
    assert "+44 20 7946 0018" in d.text and d.highlights == ["+44 20 7946 0018"]
    d = reader.answer("What does Anna do at Northwind?", [_mail(NOISY)])
    assert "Tel +44" not in d.text


def test_hard_wrapped_mail_lines_are_read_as_whole_sentences():
    body = (
        "Both are reliable.  Reliability is more a function of the software\n"
        "engineer than of the language we happen to pick for a server.\nShort line\n"
    )
    texts = [c.text for c in reader.read(_mail(body), 0) if not c.header]
    assert (
        "Reliability is more a function of the software engineer than of the language we happen to pick for a server."
        in texts
    )


def test_an_email_address_question_is_answered_from_the_headers():
    d = reader.answer("What is the email address of Anna Lee?", [_mail("See you at the offsite.")])
    assert "anna@x.example" in d.text and d.highlights == ["anna@x.example"]


def test_an_amount_is_the_total_not_a_line_item():
    s = _mail(
        "INVOICE 4471 Annual boiler service and gas safety certificate: GBP 150.00 Replacement pressure "
        "valve: GBP 30.00 Total due: GBP 180.00 Payment due by 25 March 2026 to account 12345678 sort code 00-11-22, "
        "quoting the invoice number on the transfer so that we can match it",
        subject="Invoice 4471",
    )
    d = reader.answer("How much is the invoice?", [s])
    assert d.highlights == ["GBP 180.00"] and d.text.startswith("GBP 180.00 — “")


def test_real_corpus_mail_answers_skip_headers_and_signatures(corpus: Path):
    """Every candidate sentence of real public mail (Enron and SpamAssassin) is free of reply
    headers, quoted lines, forwarded headers and sign-offs."""
    from ingest.sources.mail import MailContext, parse_message_bytes

    files = sorted((corpus / "mail/enron-48/Maildir/cur").iterdir())[:48]
    files += sorted((corpus / "mail/spamassassin/Maildir/cur").iterdir())[:150]
    seen = 0
    for f in files:
        ctx = MailContext(source_path=str(f), folder="INBOX", locator=str(f))
        for item in parse_message_bytes(f.read_bytes(), ctx).items:
            if item.kind != "email":
                continue
            s = Source.from_chunk(
                item.item_id + "#0", "header\n" + item.text, {**item.meta, "kind": "email"}, "UTC"
            )
            for c in reader.read(s, 0):
                if c.header:
                    continue
                seen += 1
                assert not c.text.lstrip().startswith(">"), (f, c.text)
                assert not reader._REPLY_HEADER.match(c.text), (f, c.text)
                assert not reader._HEADER_LINE.match(c.text), (f, c.text)
                assert not reader._SIGN_OFF.match(c.text), (f, c.text)
    assert seen > 1000


# --- events, to-dos, real stores ----------------------------------------------------------------
def test_an_event_answers_with_when_and_where(sample_assistant):
    ans = sample_assistant.ask("When is Mum's birthday dinner?", backend="extractive")
    assert ans.text.startswith(
        "Mum's birthday dinner: Sat 14 Mar 2026 19:00–22:00, Luigi's, Northcote Road [1]"
    )
    assert (
        "Sat 14 Mar 2026 19:00–22:00" in ans.highlights
        and "Luigi's, Northcote Road" in ans.highlights
    )
    ans = sample_assistant.ask("Where is Mum's birthday dinner?", backend="extractive")
    assert "Luigi's" in ans.text and "14 Mar" in ans.text


def test_the_plumbers_invoice_amount_comes_from_the_invoice(sample_assistant):
    ans = sample_assistant.ask("How much is the plumber's invoice?", backend="extractive")
    assert ans.highlights and "180" in ans.highlights[0]
    assert ans.cited and ans.cited[0].title.startswith(("invoice-4471", "Invoice 4471"))


def test_the_default_answer_on_a_cpu_machine_is_the_direct_answer(sample_store, real_embedder):
    a = Assistant(
        store=sample_store, embedder=real_embedder, timezone="Europe/London", now=SAMPLE_NOW
    )
    ans = a.ask("When is my dentist appointment?")
    assert ans.backend == "extractive" and not ans.warnings
    assert "19 Mar" in ans.text and "15:00" in ans.text and ans.cited


def test_highlights_are_marked_in_markdown_and_html():
    assert segments("£180 — “Total due: £180”", ["£180"]) == [
        ("£180", True),
        (" — “Total due: £180”", False),
    ]
    assert marked_markdown("a *b* £180", ["£180"]) == "a \\*b\\* **£180**"
    ans = Answer(question="q", text="£180 — “x” [1]", highlights=["£180"])
    assert "**£180**" in ans._repr_markdown_() and "<b>£180</b>" in ans._repr_html_()
    assert Marked("£180 — x", ["£180"]).highlights == ("£180",)


# --- a small model's answer is checked ------------------------------------------------------------
def test_grounding_rejects_5_percent_vat_for_what_did_the_plumber_charge(sample_assistant):
    invoice = sample_assistant.search("plumber invoice 4471 total due", k=3)
    for i, s in enumerate(invoice, 1):
        s.n = i
    assert off_source(
        "The plumber charged 5% VAT to the customer. [1]", "What did the plumber charge?", invoice
    )
    assert off_source("The plumber charged £1,450 [1]", "What did the plumber charge?", invoice)
    assert not off_source("The plumber charged £180 [1]", "What did the plumber charge?", invoice)


class ScriptedSmallModel:
    """A stand-in for a tiny model that says what it is told (the real ones are tested in
    test_answering.py and test_llamacpp.py): it exercises pdq's checks, not a model."""

    name = "scripted-small"
    small = True
    prompt_budget = 2000

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces

    def loaded(self) -> bool:
        return True

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def stream(self, prompt: Prompt, question: str) -> Iterator[str]:
        yield from self.pieces

    def complete(self, prompt: Prompt, question: str) -> str:
        return "".join(self.pieces)


def _with_model(sample_store, real_embedder, pieces: list[str]) -> Assistant:
    return Assistant(
        store=sample_store,
        embedder=real_embedder,
        timezone="Europe/London",
        now=SAMPLE_NOW,
        backend=ScriptedSmallModel(pieces),
    )


def test_a_confident_wrong_small_model_answer_is_replaced_by_the_direct_answer(
    sample_store, real_embedder
):
    a = _with_model(
        sample_store, real_embedder, ["The plumber ", "charged 5% VAT ", "to the customer."]
    )
    pieces = list(a.stream("What did the plumber charge?"))
    ans = pieces[-1]
    shown = "".join(p for p in pieces[:-1])
    assert "5% VAT" not in shown  # never released
    assert ans.backend_fallback == "extractive" and "180" in ans.text
    assert len([w for w in ans.warnings if "direct answer is shown" in w]) == 1


def test_a_checked_answer_is_released_sentence_by_sentence(sample_store, real_embedder):
    a = _with_model(
        sample_store,
        real_embedder,
        ["The invoice ", "is GBP 180.00. ", "It was paid ", "on 31 Smarch 2099."],
    )
    pieces = list(a.stream("How much is the plumber's invoice?"))
    ans = pieces[-1]
    texts = [p for p in pieces[:-1] if isinstance(p, str)]
    assert texts[0].startswith(
        "The invoice is GBP 180.00"
    )  # the first sentence, whole, once checked
    assert "2099" not in "".join(texts) and "2099" not in ans.text  # the invented one never shown
    assert "180" in ans.text and not ans.backend_fallback
    assert any("the rest of the model's answer was left out" in w for w in ans.warnings)


def test_a_small_model_may_phrase_the_direct_answer_but_not_replace_it(sample_store, real_embedder):
    """ "The gym is £1,450 per month": £1,450 is in the passages (the rent), next to "month", so only
    the agreement with the direct answer (£29, the gym's fee) catches it."""
    wrong = _with_model(sample_store, real_embedder, ["The gym is £1,450 per month."])
    ans = wrong.ask("How much does the gym cost per month?")
    assert (
        ans.backend_fallback == "extractive"
        and "£29" in ans.text
        and "1,450" not in ans.text.split("—")[0]
    )
    assert any("disagrees with the passage that answers it (£29)" in w for w in ans.warnings)
    right = _with_model(sample_store, real_embedder, ["Your gym plan costs £29 a month."])
    ans = right.ask("How much does the gym cost per month?")
    assert (
        not ans.backend_fallback
        and ans.text == "Your gym plan costs £29 a month."
        and not ans.warnings
    )


def test_a_small_model_that_makes_things_up_is_replaced(sample_store, real_embedder):
    a = _with_model(
        sample_store,
        real_embedder,
        ["SKB7Q2 is a new AI-powered chatbot designed by the company Skb7Q2."],
    )
    ans = a.ask("What is SKB7Q2?")
    assert ans.backend_fallback == "extractive" and "chatbot" not in ans.text
    assert any("says what your documents do not" in w and "chatbot" in w for w in ans.warnings)
