"""pdq's Streamlit page: ask questions about your mail, calendar and notes, see the sources of
every answer, glance at what is coming up, and add documents — a thin shell over ``rag.Assistant``.

Run it with ``pdq ui`` (or ``streamlit run webui/app.py``; the repo's ``.streamlit/config.toml``
keeps it on 127.0.0.1 with usage statistics off). Settings come from the environment and the
config file as everywhere else (``PDQ_STORE``, ``PDQ_LLM_BACKEND``...). The Assistant, its models
and the store are created once per server process (``st.cache_resource``) and shared by every
browser session; nothing heavy loads until it is needed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import streamlit as st

from ingest.core.errors import PdqError
from ingest.core.privacy import apply_offline_env
from ingest.core.settings import Settings, load_settings
from rag import Answer, Assistant
from rag.answer import KIND_ICONS, Source
from rag.filters import KINDS
from rag.generation import llama_cpp_available
from rag.status import StoreStatus, read_status
from webui import render
from webui import token as page_token
from webui.jobs import IngestJobs, Watchers, save_uploads

logger = logging.getLogger("pdq.webui")
SAMPLE_DOCS = Path(__file__).resolve().parent.parent / "sample_docs"
GLANCE_LINES = 8  # per glance section; the rest folds away
BACKENDS = {
    "auto": "Best on this machine",
    "extractive": "Direct answers (no model)",
    "llamacpp": "Local GGUF model (llama.cpp)",
    "transformers": "Local language model (transformers)",
    "remote": "Model server",
}


# --- process-wide resources ---------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def get_assistant(settings_json: str, _settings: Settings) -> Assistant:
    """One Assistant (and so one embedding model, store handle, language model) per settings.
    ``settings_json`` is the cache key (the API key shows as ****** in it); ``_settings``, not
    hashed, is the object itself."""
    return Assistant(settings=_settings)


@st.cache_resource(show_spinner=False)
def get_jobs() -> IngestJobs:
    return IngestJobs()


@st.cache_resource(show_spinner=False)
def get_watchers() -> Watchers:
    return Watchers()


@st.cache_data(ttl=10, show_spinner=False)
def get_status(
    store: str, refresh: int, chroma_url: str = "", collection: str = "pdq"
) -> StoreStatus:
    return read_status(Path(store), chroma_url=chroma_url, collection=collection)


def _settings() -> Settings:
    if "settings" not in st.session_state:
        st.session_state.settings = load_settings()
    return st.session_state.settings


# --- sidebar ------------------------------------------------------------------------------------
def sidebar(a: Assistant, status: StoreStatus) -> dict[str, Any]:
    """Store summary, filters, answer options; returns the options for questions."""
    s = a.settings
    with st.sidebar:
        st.header("🔒 pdq")
        st.caption("Your mail, calendar and notes — answered on this machine. Nothing leaves it.")
        st.subheader("Your store")
        st.caption(render.md(str(s.store)))
        for line in render.status_lines(status, a.generator_name()):
            st.markdown(line)

        st.subheader("Filters")
        since = st.date_input("From", value=None, key="f_since", format="YYYY-MM-DD")
        until = st.date_input("To", value=None, key="f_until", format="YYYY-MM-DD")
        kinds = st.multiselect(
            "Kinds",
            KINDS,
            key="f_kinds",
            format_func=lambda k: f"{KIND_ICONS.get(k, '')} {render.KIND_LABELS.get(k, k)}",
        )
        sender = st.text_input("From (name or address)", key="f_sender", placeholder="e.g. Anna")
        with st.expander("More mail filters", expanded=False):
            to = st.text_input("Sent to (name or address)", key="f_to", placeholder="e.g. Anna")
            folder = st.text_input("Folder", key="f_folder", placeholder="e.g. Work")
            subject = st.text_input("Subject contains", key="f_subject")

        st.subheader("Answers")
        names = [
            n
            for n in BACKENDS
            if (n != "remote" or s.llm_url) and (n != "llamacpp" or llama_cpp_available())
        ]
        backend = st.selectbox(
            "Answer with",
            names,
            index=names.index(s.llm_backend) if s.llm_backend in names else 0,
            key="o_backend",
            format_func=lambda n: BACKENDS[n],
        )
        top_k = st.slider(
            "Sources per answer (top-k)", 1, 20, value=min(20, max(1, s.top_k)), key="o_top_k"
        )
        details = st.toggle(
            "Show retrieval details",
            key="o_details",
            help="Timings per stage and scores per source",
        )

        with st.expander("Add mail and documents", expanded=False):
            ingest_form(a, "side")
        keep_in_sync(a)
    filters: dict[str, Any] = {}
    if since:
        filters["since"] = since
    if until:
        filters["until"] = until
    if kinds:
        filters["kinds"] = list(kinds)
    if sender.strip():
        filters["sender"] = sender.strip()
    for key, value in (("to", to), ("folder", folder), ("subject", subject)):
        if value.strip():
            filters[key] = value.strip()
    if st.session_state.get("f_thread"):  # "Show the conversation" on a source card
        filters["thread"] = st.session_state["f_thread"]
    return {"filters": filters, "backend": backend, "k": top_k, "details": details}


def keep_in_sync(a: Assistant) -> None:
    """The "Keep in sync" toggle: a watcher follows the store's folders while it is on."""
    watchers = get_watchers()
    w = watchers.get(a.settings.store)
    on = st.toggle(
        "Keep in sync",
        value=bool(w and w.running),
        key="o_keep_in_sync",
        help="Watch the folders this store was given and add, update or remove mail as it "
        "changes (like `pdq watch`).",
    )
    if on and not (w and w.running):
        w = watchers.start(a)
    elif not on and w and w.running:
        watchers.stop(a.settings.store)
    if w and w.error:
        st.caption(render.md(w.error))
    elif on and w:
        st.caption(render.md(f"Watching · last sync {w.last}" if w.last else "Watching…"))


# --- ingest -------------------------------------------------------------------------------------
def ingest_form(a: Assistant, where: str) -> None:
    """Folder path or uploads → a background ingest job."""
    jobs = get_jobs()
    job = jobs.current(a.settings.store)
    busy = job is not None and job.running
    folder = st.text_input(
        "Folder or file to ingest",
        key=f"{where}_path",
        placeholder="~/Mail or /home/me/Documents/notes",
        disabled=busy,
    )
    uploads = st.file_uploader(
        "…or upload files", accept_multiple_files=True, key=f"{where}_upload", disabled=busy
    )
    if st.button("Ingest", key=f"{where}_go", disabled=busy, type="primary"):
        paths: list[str | Path] = []
        if folder.strip():
            p = Path(folder.strip()).expanduser()
            if not p.exists():
                st.error(f"There is no file or folder at {render.md(str(p))}.")
                return
            paths.append(p)
        if uploads:
            paths += save_uploads(a.settings.store, [(u.name, u.getvalue()) for u in uploads])
        if not paths:
            st.warning("Enter a folder path or choose files first.")
            return
        start_ingest(a, paths)


def start_ingest(a: Assistant, paths: list[str | Path]) -> None:
    try:
        get_jobs().start(a, paths)
    except PdqError as exc:
        st.error(str(exc))
        return
    st.session_state.pop("seen_job", None)
    st.rerun()


def ingest_progress(a: Assistant) -> None:
    """The running (or last) ingest of this store: progress bar, then its report."""
    job = get_jobs().current(a.settings.store)
    if job is None:
        return
    if job.running:

        @st.fragment(run_every=1.0)
        def _poll() -> None:
            j = get_jobs().current(a.settings.store)
            if j is None or not j.running:
                st.rerun(scope="app")
            st.progress(
                j.fraction if j else 1.0, text="Ingesting — " + render.md(j.describe() if j else "")
            )
            st.caption(
                "You can keep asking questions meanwhile: what is read is found by keyword at "
                "once, and by meaning as soon as it is embedded."
            )

        _poll()
        return
    if st.session_state.get("seen_job") == job.started:
        return
    with st.container(border=True):
        if job.error:
            st.error(f"Ingest stopped: {render.md(job.error)}")
        else:
            r = job.report
            st.success(
                f"Ingest finished in {r.seconds:.1f}s: {sum(r.totals[c] for c in ('new', 'updated'))} items "
                f"added or updated, {r.totals['unchanged']} unchanged, {r.failed} failed."
            )
            st.code(str(r), language=None)
            fails = list(render.failures(r))
            if fails:
                st.warning(
                    "These could not be read and were skipped:\n\n"
                    + "\n".join(f"- {f}" for f in fails[:50])
                )
        if st.button("Dismiss", key="dismiss_job"):
            st.session_state.seen_job = job.started
            st.rerun()


def empty_store(a: Assistant) -> None:
    st.title("Welcome to pdq")
    st.markdown(
        "pdq answers questions about **your own** mail, calendar, notes and documents, entirely on this "
        "machine. Your store is empty: add something to search.\n\n"
        "- **Mail**: a Maildir or mbox folder (Thunderbird, mutt, an export), or `.eml` files\n"
        "- **Calendar**: `.ics` files · **To-dos**: `todo.txt` · **Notes and documents**: Markdown, text, PDF, Word, HTML\n\n"
        "From a terminal: `pdq ingest ~/Mail ~/Documents/notes` — or use the form below."
    )
    if SAMPLE_DOCS.is_dir():
        st.markdown("**New here?** Try it on the bundled sample mailbox, calendar and notes:")
        if st.button("Ingest the sample documents", key="ingest_sample", type="primary"):
            start_ingest(a, [SAMPLE_DOCS])
    st.markdown("**Your own data:**")
    ingest_form(a, "main")


# --- glance -------------------------------------------------------------------------------------
def glance_panel(a: Assistant) -> None:
    st.subheader("At a glance")
    try:
        g = a.glance()
    except PdqError as exc:
        st.error(str(exc))
        return
    st.caption(render.md(render.now_label(g.now)))
    for heading, lines in render.glance_sections(g):
        st.markdown(f"**{render.md(heading)}**")
        st.markdown("\n".join(lines[:GLANCE_LINES]))
        if len(lines) > GLANCE_LINES:
            with st.expander(f"{len(lines) - GLANCE_LINES} more"):
                st.markdown("\n".join(lines[GLANCE_LINES:]))


# --- chat ---------------------------------------------------------------------------------------
def source_card(a: Assistant, s: Source, query: str, key: str, details: bool) -> None:
    with st.expander(render.card_label(s)):
        st.markdown(render.highlight(s.snippet, query))
        facts = render.card_facts(s)
        if facts:
            st.caption(facts)
        if details:
            st.caption(render.scores_line(s))
        if st.toggle(render.FULL_LABELS.get(s.kind, "Show the whole item"), key=f"full_{key}"):
            view = a.item(s.item_id)
            if view is None:
                st.info("This item is no longer in the store (it was removed by a later ingest).")
                return
            with st.container(height=320):
                st.markdown(render.md(view.text))
            if view.file is not None:
                f = view.file
                st.download_button(
                    f"Download {f.name}", data=f.read_bytes, file_name=f.name, key=f"dl_{key}"
                )
        if (
            s.kind == "email"
            and s.thread_id
            and st.toggle("Show the conversation", key=f"conv_{key}")
        ):
            messages = a.conversation(s.thread_id)
            with st.container(height=420):
                for m in messages:
                    view = a.item(m.item_id)
                    st.markdown(f"**{render.md(m.header())}**")
                    st.markdown(render.md(view.text if view else m.snippet))
                    st.divider()


def show_answer(a: Assistant, ans: Answer, turn: int, details: bool) -> None:
    """Everything under an answer's text: notes, filters, source cards, details."""
    for w in ans.warnings:
        st.warning(render.md(w))
    if ans.abstained:
        why = ans.abstain_reason or "nothing in your documents answers this well enough"
        st.info(render.md(f"{why[0].upper()}{why[1:]}. Try other words or widen the filters."))
    line = render.filters_line(ans.filters)
    if line:
        st.caption(line)
    if details:
        st.caption(render.timings_line(ans))
    query = ans.standalone_question or ans.question
    if ans.sources:
        cited = [s for s in ans.sources if s.n]
        rest = [s for s in ans.sources if not s.n]
        st.markdown(f"**Sources** ({len(cited)})" if cited else "**Closest matches**")
        for i, s in enumerate(cited or rest):
            source_card(a, s, query, f"{turn}_{i}", details)
        if cited and rest:
            st.caption("Also retrieved")
            for i, s in enumerate(rest):
                source_card(a, s, query, f"{turn}_r{i}", details)


def ask(a: Assistant, question: str, opts: dict[str, Any]) -> None:
    """Stream a new answer into the page and keep it in the conversation."""
    turns: list[dict[str, Any]] = st.session_state.turns
    turn = len(turns)
    with st.chat_message("user"):
        st.markdown(render.md(question))
    with st.chat_message("assistant"):
        got: dict[str, Answer] = {}

        def pieces() -> Any:
            for p in a.stream(
                question,
                history=[t["answer"] for t in turns],
                filters=opts["filters"] or None,
                k=opts["k"],
                backend=opts["backend"],
            ):
                if isinstance(p, Answer):
                    got["answer"] = p
                else:
                    yield render.answer_md(p)

        box = st.empty()
        try:
            with st.spinner("Searching your documents…"):
                with box.container():
                    st.write_stream(pieces())
        except PdqError as exc:
            box.error(render.md(str(exc)))
            return
        except Exception as exc:  # a bug: say so plainly, keep the page, log the traceback
            logger.exception("answering %r failed", question)
            box.error(f"pdq could not answer: {render.md(type(exc).__name__ + ': ' + str(exc))}")
            return
        ans = got["answer"]
        box.markdown(
            render.answer_md(ans.text, ans.highlights)
        )  # the final text (citations renumbered, checked)
        show_answer(a, ans, turn, opts["details"])
    turns.append({"answer": ans})


def conversation(a: Assistant, opts: dict[str, Any]) -> None:
    for i, t in enumerate(st.session_state.turns):
        ans: Answer = t["answer"]
        with st.chat_message("user"):
            st.markdown(render.md(ans.question))
        with st.chat_message("assistant"):
            st.markdown(render.answer_md(ans.text, ans.highlights))
            show_answer(a, ans, i, opts["details"])


# --- the lock -----------------------------------------------------------------------------------
def unlocked(store: Path) -> bool:
    """Did this browser session open the page with the store's token (``?token=...``)?"""
    if not page_token.required() or st.session_state.get("unlocked"):
        return True
    try:
        expected = page_token.load(store)
    except OSError:  # no token can be kept: the page stays locked rather than open
        return False
    if page_token.matches(st.query_params.get("token"), expected):
        st.session_state["unlocked"] = True
        return True
    return False


def locked_screen(store: Path) -> None:
    st.title("🔒 pdq is locked")
    st.markdown(
        "Open the page with the link `pdq ui` printed (it ends in `?token=…`). "
        "The token is kept in the store folder, readable by your account only; "
        "`pdq ui --new-token` makes a new one."
    )


# --- the page -----------------------------------------------------------------------------------
def main() -> None:
    apply_offline_env()
    st.set_page_config(page_title="pdq — your private assistant", page_icon="🔒", layout="wide")
    try:
        settings = _settings()
    except PdqError as exc:
        st.error(f"pdq's settings are not valid: {render.md(str(exc))}")
        st.stop()
    if not unlocked(settings.store):  # before anything of the store is read or sent
        locked_screen(settings.store)
        st.stop()
    a = get_assistant(settings.model_dump_json(), settings)
    st.session_state.setdefault("turns", [])
    job = get_jobs().current(settings.store)
    status = get_status(
        str(settings.store),
        int(job.finished) if job else 0,
        settings.chroma_url,
        settings.chroma_collection,
    )
    opts = sidebar(a, status)

    if not status.exists or not sum(status.items.values()):
        ingest_progress(a)
        if job is None or not job.running:
            empty_store(a)
        return

    question = st.chat_input("Ask about your mail, calendar, notes…")
    chat, side = st.columns([5, 2], gap="large")
    with side:
        glance_panel(a)
    with chat:
        top = st.columns([3, 1], vertical_alignment="bottom")
        top[0].title("Ask your documents")
        if top[1].button("New conversation", key="new_chat", disabled=not st.session_state.turns):
            st.session_state.turns = []
            st.rerun()
        ingest_progress(a)
        if not st.session_state.turns and not question:
            st.caption(
                "Try: “When is my dentist appointment?” · “What did Anna say about the budget?” · "
                "“What is still on my to-do list this week?” · “What's on my calendar next week?”"
            )
        conversation(a, opts)
        if question is not None and not question.strip():  # only spaces
            st.info("Type a question first, e.g. “When is my dentist appointment?”")
        elif question:
            ask(a, question, opts)


main()
