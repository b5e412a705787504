"""Fast unit tests of the answering pieces: citations, grounding, follow-ups, filters, intent,
answer rendering. The real-model and real-store tests are in test_answering.py."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ingest.core.errors import ConfigError
from rag import citations, grounding
from rag.answer import Answer, Source
from rag.filters import Filters, from_user
from rag.followup import standalone
from rag.intent import SenderDirectory, analyze

NOW = datetime(2026, 3, 11, 9, 0, tzinfo=ZoneInfo("Europe/London"))


def _src(n: int, **meta) -> Source:
    m = {"kind": "email", "item_id": f"mail:{n}", "subject": f"S{n}", "date": 1772802000, **meta}
    s = Source.from_chunk(f"mail:{n}#0", f"header\nbody {n}", m, "Europe/London")
    s.n = n
    return s


def test_citations_reorder_and_drop_dangling():
    srcs = [_src(1), _src(2), _src(3)]
    text, ordered = citations.apply("It moved to Thursday [3], see also [1, 7] and [9].", srcs)
    assert [s.n for s in ordered] == [3, 1, 2]
    assert [s.cited for s in ordered] == [True, True, False]
    assert "[9]" not in text and "[1]" in text and "7" not in text


def test_sources_are_kept_when_nothing_is_cited():
    text, ordered = citations.apply("Thursday.", [_src(1), _src(2)])
    assert text == "Thursday." and len(ordered) == 2 and not any(s.cited for s in ordered)


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ("It was moved to Thursday 19 March at 15:00 [1].", True),
        ("It is on Wednesday 20 March.", False),
        ("The invoice is £180.", True),
        ("The invoice is £1,450.", False),
        ("When is your dentist appointment?", False),
    ],
)
def test_grounding(answer, ok):
    ctx = (
        "Your appointment has been moved to Thursday 19 March 2026 at 15:00. Total due: GBP 180.00"
    )
    assert (not grounding.unsupported(answer, ctx)) is ok


def test_followups_become_standalone():
    hist = [("When is Mum's birthday dinner?", "Saturday")]
    assert standalone("Where is it?", hist) == "Where is it (When is Mum's birthday dinner)?"
    assert (
        standalone("How much is the plumber's invoice?", hist)
        == "How much is the plumber's invoice?"
    )
    assert standalone("Where is it?", []) == "Where is it?"


def test_user_filters():
    f = from_user(
        {"since": "2026-03-01", "until": "2026-03-10", "kinds": ["email"]}, "Europe/London"
    )
    assert f.describe() == {"dates": "2026-03-01 to 2026-03-10", "kind": "email"}
    assert f.match({"kind": "email", "date": f.time.start_epoch}) and not f.match(
        {"kind": "event", "date": f.time.start_epoch}
    )
    assert not f.match({"kind": "email", "date": f.time.end_epoch})
    with pytest.raises(ConfigError):
        from_user({"kinds": ["fax"]}, "Europe/London")
    with pytest.raises(ConfigError):
        from_user({"since": "yesterdayish"}, "Europe/London")
    assert Filters().where() is None


def test_intent_sender_time_and_listings():
    senders = SenderDirectory(
        [("Anna Lee", "anna.lee@northwind.example"), ("Ben Okafor", "ben@northwind.example")]
    )
    p = analyze("What did Anna say about the budget last week?", NOW, senders)
    assert p.filters.senders == ("anna.lee@northwind.example",)
    assert p.filters.describe() == {"dates": "2026-03-02 to 2026-03-08", "from": "Anna Lee"}
    assert not p.listing
    p = analyze("What is on my calendar next week?", NOW, senders)
    assert p.listing == "schedule" and p.filters.kinds == ("event",)
    p = analyze("Which to-dos are still open?", NOW, senders)
    assert p.listing == "todos" and p.filters.open_todos
    p = analyze("When is my dentist appointment?", NOW, senders)
    assert p.favour_kinds == ("event",) and not p.listing and p.filters.is_empty()
    p = analyze("What did Zed say?", NOW, senders)
    assert not p.filters.senders  # an unknown name filters nothing


def test_answer_rendering_escapes_stored_text():
    s = _src(1, subject="<script>alert(1)</script> *bold*")
    a = Answer(question="q", text="See <b>this</b> [1]", sources=[s], filters={"kind": "email"})
    md, html = a._repr_markdown_(), a._repr_html_()
    assert "<script>" not in md and "<script>" not in html and "&lt;script&gt;" in html
    assert "\\*bold\\*" in md
    df = a.to_dataframe()
    assert list(df["title"]) == ["<script>alert(1)</script> *bold*"] and df.shape[0] == 1
    assert (
        a.to_dict()["sources"][0]["header"]
        == "06 Mar 2026 13:00 · <script>alert(1)</script> *bold*"
    )


def test_vectorised_filter_mask_equals_the_predicate():
    """The BM25 side filters with numpy columns; it must keep exactly what Filters.match keeps."""
    import random

    from ingest.store.keyword_index import KeywordIndex
    from rag.dates import TimeRange

    rnd = random.Random(5)
    tz = ZoneInfo("Europe/London")
    metas = []
    for i in range(3000):
        m = {"item_id": f"i{i}", "kind": rnd.choice(["email", "event", "todo", "note"])}
        if rnd.random() < 0.9:
            m["date"] = 1_772_000_000 + rnd.randint(0, 3_000_000)
        if m["kind"] == "email":
            m["from_addr"] = rnd.choice(["anna@x", "ben@x", "tom@x"])
            m["thread_id"] = f"t{i % 40}"
        if m["kind"] == "todo":
            m["done"] = rnd.random() < 0.5
        metas.append(m)
    kw = KeywordIndex(None, [f"c{i}" for i in range(len(metas))], metas, "g", None)
    ranges = [
        None,
        TimeRange(datetime(2026, 3, 1, tzinfo=tz), datetime(2026, 3, 15, tzinfo=tz)),
        TimeRange(datetime(2026, 3, 10, tzinfo=tz), None),
        TimeRange(None, datetime(2026, 3, 5, tzinfo=tz)),
    ]
    for t in ranges:
        for kinds in [(), ("email",), ("todo", "event")]:
            for senders in [(), ("anna@x",)]:
                for open_todos in (False, True):
                    f = Filters(time=t, kinds=kinds, senders=senders, open_todos=open_todos)
                    assert f.mask(kw).tolist() == [f.match(m) for m in metas], f
    assert kw.thread("t3") == [i for i, m in enumerate(metas) if m.get("thread_id") == "t3"]


def test_a_small_models_answer_must_hold_what_the_question_asks_for():
    from rag.grounding import lacks_wanted

    assert (
        lacks_wanted("HACKED", "When is Mum's birthday dinner?")
        == "it names no date, which the question asks for"
    )
    assert lacks_wanted("The plumber charged 5% VAT.", "What did the plumber charge?").startswith(
        "it names no amount"
    )
    assert lacks_wanted("Saturday at 19:00 at Luigi's", "When is Mum's birthday dinner?") == ""
    assert lacks_wanted("£180 [1]", "How much is the plumber's invoice?") == ""
    assert (
        lacks_wanted("Anna suggested trimming user research.", "What did Anna suggest?") == ""
    )  # untyped
