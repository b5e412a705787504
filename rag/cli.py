"""The ``pdq`` command line: a thin shell over :class:`rag.Assistant`.

Parses options, builds the settings once, calls the library, renders the result. Errors that
are the user's (a missing path, a store built with another model) print as one line; ``--debug``
shows the traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ingest.core.errors import PdqError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="pdq: a private assistant for your own mail, calendar and notes. Nothing leaves your machine.",
)

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Store directory (default: PDQ_STORE, config file, or ~/.local/share/pdq/store).",
    ),
]
ChromaOpt = Annotated[
    str | None,
    typer.Option(
        "--chroma-url",
        help="Keep the chunks on this Chroma server (http://host:port; default PDQ_CHROMA_URL, else embedded).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Verbose logs and full tracebacks.")]


def _setup_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for noisy in (
        "httpx",
        "chromadb",
        "urllib3",
        "sentence_transformers",
        "unstructured",
        "pdfminer",
        "pikepdf",
    ):
        logging.getLogger(noisy).setLevel(logging.INFO if debug else logging.ERROR)


def _assistant(store: Path | None, debug: bool, **overrides: Any) -> Any:
    from ingest.core.privacy import apply_offline_env

    apply_offline_env()
    from .assistant import Assistant

    return Assistant(store=store, **overrides)


def _need_text(text: str, what: str) -> None:
    """An empty or blank question is a usage error: one line, exit 2."""
    if not text.strip():
        typer.echo(
            f'pdq: error: give {what}, e.g. pdq ask "When is my dentist appointment?"', err=True
        )
        raise typer.Exit(2)


def _fail(exc: BaseException, debug: bool) -> None:
    if debug:
        raise exc
    typer.echo(f"pdq: error: {exc}", err=True)
    raise typer.Exit(1)


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Mail folders (Maildir, mbox, .eml, .msg), calendars, notes, documents."
        ),
    ],
    store: StoreOpt = None,
    chroma_url: ChromaOpt = None,
    rebuild: Annotated[
        bool,
        typer.Option("--rebuild", help="Delete the store's contents and embed everything again."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Parse and chunk only; embed and store nothing.")
    ] = False,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Parse, chunk, embed and store everything under PATHS; re-runs only do what changed."""
    _setup_logging(debug)
    try:
        a = _assistant(store, debug, chroma_url=chroma_url)
        show = not as_json and sys.stderr.isatty()
        if show:
            report = _with_progress(a, paths, rebuild, dry_run)
        else:
            report = a.ingest(paths, rebuild=rebuild, dry_run=dry_run)
    except PdqError as exc:
        _fail(exc, debug)
        return
    except KeyboardInterrupt:
        # Ctrl-C: what was written is journalled, so the store is consistent; a re-run resumes
        typer.echo(
            "pdq: interrupted; everything stored so far is kept (and searchable). Run the same "
            "command again to finish (finished items are skipped, embedding resumes).",
            err=True,
        )
        raise typer.Exit(130) from None
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else str(report))


def _with_progress(a: Any, paths: list[Path], rebuild: bool, dry_run: bool) -> Any:
    """The ingest with two progress bars: 1/2 reading (files), 2/2 embedding (items)."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ingest.pipeline import IngestProgress

    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        read = bar.add_task("1/2 read ", total=None, unit="files", rate="")
        embed: list[Any] = []
        started = time.perf_counter()

        def update(ev: IngestProgress) -> None:
            dt = max(1e-6, time.perf_counter() - started)
            if ev.phase == "embed":
                if not embed:
                    bar.update(read, completed=ev.files_total, total=ev.files_total or 1)
                    embed.append(bar.add_task("2/2 embed", total=None, unit="items", rate=""))
                    embed.append(time.perf_counter())
                rate = f"{ev.chunks} chunks ({ev.chunks / max(1e-6, time.perf_counter() - embed[1]):.1f}/s), newest first"
                bar.update(embed[0], completed=ev.embedded_items, total=ev.total_items, rate=rate)
                return
            rate = f"{ev.items} items ({ev.items / dt:.0f}/s), keyword-searchable as read"
            bar.update(read, completed=ev.files_done, total=ev.files_total or None, rate=rate)

        return a.ingest(paths, rebuild=rebuild, dry_run=dry_run, progress=update)


@app.command()
def sync(
    store: StoreOpt = None,
    chroma_url: ChromaOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Re-sync every folder and file ingested into the store (no paths needed): new, changed
    and deleted mail, and files that failed last time."""
    _setup_logging(debug)
    try:
        a = _assistant(store, debug, chroma_url=chroma_url)
        report = a.sync()
    except PdqError as exc:
        _fail(exc, debug)
        return
    except KeyboardInterrupt:
        typer.echo("pdq: interrupted; everything stored so far is kept.", err=True)
        raise typer.Exit(130) from None
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else str(report))


@app.command()
def watch(
    store: StoreOpt = None,
    polling: Annotated[
        bool, typer.Option("--poll", help="Poll for changes instead of filesystem events.")
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Keep the store in step with its folders: sync whatever changes, as it changes (Ctrl-C
    stops; the store stays consistent)."""
    _setup_logging(debug)
    from ingest.watch import watch as follow

    def said(report: Any) -> None:
        if report.changes():
            typer.echo(f"synced: {report.changes()}")

    try:
        a = _assistant(store, debug)
        typer.echo(f"watching the sources of {a.settings.store} (Ctrl-C stops)")
        follow(a.settings, embedder=a.embedder, polling=polling, on_sync=said)
    except PdqError as exc:
        _fail(exc, debug)
        return
    except KeyboardInterrupt:
        typer.echo("pdq: stopped watching; the store is consistent.", err=True)


@app.command()
def sources(
    store: StoreOpt = None,
    chroma_url: ChromaOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The folders and files this store was given: items, files, last sync, failures."""
    import time as _time
    from dataclasses import asdict

    _setup_logging(debug)
    try:
        roots = _assistant(store, debug, chroma_url=chroma_url).sources()
    except PdqError as exc:
        _fail(exc, debug)
        return
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in roots], indent=2))
        return
    if not roots:
        typer.echo("No sources yet: `pdq ingest PATH` adds one.")
    for r in roots:
        when = _time.strftime("%Y-%m-%d %H:%M", _time.localtime(r.last_sync or r.added))
        typer.echo(f"{r.path}\n  {r.items} items from {r.files} files · last sync {when}")
        for path, why in r.failed:
            typer.echo(f"  ✗ {path}: {why} (tried again by `pdq sync`)")


@app.command()
def forget(
    path: Annotated[
        Path, typer.Argument(help="A folder or file given to `pdq ingest` (or inside one).")
    ],
    store: StoreOpt = None,
    chroma_url: ChromaOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Remove a source and every item that came only from it (items also found elsewhere stay)."""
    _setup_logging(debug)
    try:
        report = _assistant(store, debug, chroma_url=chroma_url).forget(path)
    except PdqError as exc:
        _fail(exc, debug)
        return
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    removed = report.totals["removed"]
    typer.echo(
        f"forgot {path}: {removed} items removed ({report.chunks_removed} chunks), "
        f"{report.files_removed} files; `pdq sync` will not read it again"
    )


@app.command()
def status(
    store: StoreOpt = None,
    chroma_url: ChromaOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show what the store holds: items by kind, chunks, dates, models, size, last sync."""
    _setup_logging(debug)
    try:
        st = _assistant(store, debug, chroma_url=chroma_url).status()
    except PdqError as exc:
        _fail(exc, debug)
        return
    typer.echo(json.dumps(st.to_dict(), indent=2) if as_json else str(st))


NowOpt = Annotated[
    str | None,
    typer.Option("--now", help="Pretend it is this time (ISO 8601), for relative dates."),
]
BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="'auto', 'extractive' (direct answers, no model), 'llamacpp' (a GGUF model in process), 'transformers' (a Hugging Face model) or 'remote' (PDQ_LLM_URL).",
    ),
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Only items dated on/after this day (YYYY-MM-DD).")
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Only items dated on/before this day (YYYY-MM-DD).")
]
KindOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--kind",
        help="Only these kinds (email, attachment, event, todo, note, document); repeatable.",
    ),
]
SenderOpt = Annotated[
    str | None, typer.Option("--from", help="Only mail from this sender (name or address).")
]
KOpt = Annotated[int | None, typer.Option("-k", help="How many sources to use.")]
ModeOpt = Annotated[
    str | None, typer.Option("--mode", help="Retrieval: hybrid (default), dense or bm25.")
]


def _filters(
    since: str | None,
    until: str | None,
    kind: list[str] | None,
    sender: str | None,
    more: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    f: dict[str, Any] = {
        k: v
        for k, v in {
            "since": since,
            "until": until,
            "kinds": kind or None,
            "sender": sender,
            **(more or {}),
        }.items()
        if v
    }
    return f or None


ToOpt = Annotated[
    str | None, typer.Option("--to", help="Only mail to/cc this person (name or address).")
]
FolderOpt = Annotated[
    list[str] | None, typer.Option("--folder", help="Only mail in this folder; repeatable.")
]
ThreadOpt = Annotated[
    str | None, typer.Option("--thread", help="Only this conversation (a source's thread id).")
]
SubjectOpt = Annotated[
    str | None, typer.Option("--subject", help="Only items whose subject/title contains this.")
]


def _echo_piece(piece: str) -> None:
    """A piece of the answer; the spans that answer the question in colour on a terminal."""
    from .answer import Marked, segments

    if isinstance(piece, Marked) and piece.highlights:
        for text, on in segments(piece, piece.highlights):
            typer.echo(typer.style(text, fg="yellow", bold=True) if on else text, nl=False)
        return
    typer.echo(piece, nl=False)


def _print_sources(sources: list[Any], scores: bool = False) -> None:
    for s in sources:
        mark = f"[{s.n}]" if s.n else " - "
        extra = (
            "  " + " ".join(f"{k}={v:.4g}" for k, v in s.scores.items())
            if scores and s.scores
            else ""
        )
        typer.echo(f"  {mark} {s.kind:<10} {s.header()}{extra}")
        if s.path:
            typer.echo(f"        {s.path}")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in quotes.")],
    store: StoreOpt = None,
    chroma_url: ChromaOpt = None,
    now: NowOpt = None,
    backend: BackendOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    kind: KindOpt = None,
    sender: SenderOpt = None,
    to: ToOpt = None,
    folder: FolderOpt = None,
    thread: ThreadOpt = None,
    subject: SubjectOpt = None,
    k: KOpt = None,
    mode: ModeOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Answer a question from your store, streaming the answer, then its sources."""
    more = {"to": to, "folder": folder, "thread": thread, "subject": subject}
    _need_text(question, "a question")
    _setup_logging(debug)
    try:
        a = _assistant(store, debug, now=now, chroma_url=chroma_url)
        answer = None
        for piece in a.stream(
            question,
            filters=_filters(since, until, kind, sender, more),
            k=k,
            mode=mode,
            backend=backend,
        ):
            if isinstance(piece, str):
                if not as_json:
                    _echo_piece(piece)
            else:
                answer = piece
    except PdqError as exc:
        _fail(exc, debug)
        return
    assert answer is not None
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), indent=2, default=str))
        return
    typer.echo("")
    if answer.abstain_reason:
        typer.echo(f"note: {answer.abstain_reason}", err=True)
    for w in answer.warnings:
        typer.echo(f"note: {w}", err=True)
    if answer.filters:
        typer.echo("\nfilters: " + ", ".join(f"{k2}: {v}" for k2, v in answer.filters.items()))
    if answer.sources:
        typer.echo("\nsources:")
        _print_sources(answer.sources)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    store: StoreOpt = None,
    chroma_url: ChromaOpt = None,
    now: NowOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    kind: KindOpt = None,
    sender: SenderOpt = None,
    to: ToOpt = None,
    folder: FolderOpt = None,
    thread: ThreadOpt = None,
    subject: SubjectOpt = None,
    k: Annotated[int, typer.Option("-k", help="How many results.")] = 10,
    mode: ModeOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Ranked sources for a query, with scores and the filters applied (no language model)."""
    more = {"to": to, "folder": folder, "thread": thread, "subject": subject}
    _need_text(query, "something to search for")
    _setup_logging(debug)
    try:
        a = _assistant(store, debug, now=now, chroma_url=chroma_url)
        a.warm_up()
        found = a.retrieve(query, k, _filters(since, until, kind, sender, more), mode=mode)
        plan = found.plan
    except PdqError as exc:
        _fail(exc, debug)
        return
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "query": query,
                    "filters": plan.filters.describe(),
                    "timings": found.timings,
                    "sources": [s.to_dict() for s in found.sources],
                },
                indent=2,
                default=str,
            )
        )
        return
    desc = plan.filters.describe()
    typer.echo(f"filters: {', '.join(f'{k2}: {v}' for k2, v in desc.items()) if desc else 'none'}")
    for i, s in enumerate(found.sources, 1):
        s.n = i
    _print_sources(found.sources, scores=True)
    if not found.sources:
        typer.echo("no results")


@app.command()
def chat(
    store: StoreOpt = None,
    chroma_url: ChromaOpt = None,
    now: NowOpt = None,
    backend: BackendOpt = None,
    debug: DebugOpt = False,
) -> None:
    """An interactive conversation: follow-up questions use the earlier turns. Empty line or Ctrl-D quits."""
    _setup_logging(debug)
    try:
        a = _assistant(store, debug, now=now, chroma_url=chroma_url)
        history: list[Any] = []
        while True:
            try:
                q = input("you> ").strip()
            except EOFError:
                break
            if not q:
                break
            typer.echo("pdq> ", nl=False)
            for piece in a.stream(q, history=history, backend=backend):
                if isinstance(piece, str):
                    _echo_piece(piece)
                else:
                    typer.echo("")
                    for s in piece.cited[:5] or piece.sources[:3]:
                        typer.echo(f"      [{s.n}] {s.header()}")
                    history.append(piece)
    except PdqError as exc:
        _fail(exc, debug)


@app.command(name="eval")
def eval_(
    file: Annotated[
        Path, typer.Argument(help="Questions (JSON lines), e.g. sample_docs/questions.jsonl.")
    ],
    store: StoreOpt = None,
    now: Annotated[
        str, typer.Option("--now", help="The questions' 'now'.")
    ] = "2026-03-11T09:00:00",
    backend: BackendOpt = None,
    no_answers: Annotated[
        bool, typer.Option("--no-answers", help="Retrieval metrics only.")
    ] = False,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Recall@1/5/10 and MRR per category for dense, BM25 and hybrid retrieval; answer quality."""
    _setup_logging(debug)
    try:
        from .evaluation import evaluate, format_table, load_questions

        a = _assistant(store, debug)
        result = evaluate(a, load_questions(file), now=now, backend=backend, answers=not no_answers)
    except PdqError as exc:
        _fail(exc, debug)
        return
    typer.echo(json.dumps(result, indent=2, default=str) if as_json else format_table(result))


def _free_port(host: str, port: int) -> int:
    """``port`` if it can be bound on ``host``, else a free one the OS picks."""
    import socket

    for candidate in (port, 0):
        with socket.socket() as sock:
            try:
                sock.bind((host, candidate))
                return int(sock.getsockname()[1])
            except OSError:
                continue
    raise typer.BadParameter(f"cannot bind {host}")


def _wait_and_open(url: str, host: str, port: int, proc: Any) -> None:
    import socket
    import time
    import webbrowser

    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.3)
    if proc.poll() is None:
        webbrowser.open(url)


def streamlit_command(host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line for the page, private flags included."""
    app_path = Path(__file__).resolve().parent.parent / "webui" / "app.py"
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--browser.serverAddress",
        host,
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--client.showErrorDetails",
        "none",
        "--client.toolbarMode",
        "minimal",
        "--theme.base",
        "light",
    ]


def _page_env(store: Path, backend: str | None, now: str | None) -> dict[str, str]:
    """The page's environment: the store, the choices given, Streamlit's usage statistics off."""
    import os

    env = dict(os.environ, PDQ_STORE=str(store), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    if backend:
        env["PDQ_LLM_BACKEND"] = backend
    if now:
        env["PDQ_NOW"] = now
    return env


@app.command()
def ui(
    store: StoreOpt = None,
    port: Annotated[
        int, typer.Option("--port", help="Port (a free one is picked if it is taken).")
    ] = 8501,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on. Keep 127.0.0.1 unless you know why."),
    ] = "127.0.0.1",
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the page in your browser.")
    ] = True,
    backend: BackendOpt = None,
    now: NowOpt = None,
    new_token: Annotated[
        bool, typer.Option("--new-token", help="Replace the page's token (old links stop working).")
    ] = False,
    no_token: Annotated[
        bool,
        typer.Option(
            "--no-token", help="Serve the page without a token (anyone local can read it)."
        ),
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Serve the web page on this machine (http://127.0.0.1:8501/?token=...) and open it."""
    import signal
    import subprocess
    import threading

    from ingest.core.settings import load_settings
    from ingest.store import prepare_dir

    _setup_logging(debug)
    try:
        overrides = {k: v for k, v in {"llm_backend": backend, "now": now}.items() if v}
        settings = load_settings(
            store=store, **overrides
        )  # fail here, in one line, not in the page
    except PdqError as exc:
        _fail(exc, debug)
        return
    env = _page_env(settings.store.resolve(), backend, now)
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(
            f"pdq: warning: listening on {host}: anyone who can reach this machine can read your mail "
            "through the page",
            err=True,
        )
    free = _free_port(host, port)
    if free != port:
        typer.echo(f"pdq: port {port} is taken; using {free}", err=True)
    url = f"http://{host}:{free}"
    if no_token:
        env["PDQ_PAGE_TOKEN"] = "off"
        typer.echo(
            "pdq: warning: no token: every account on this machine can read the page", err=True
        )
    else:
        from webui import token as page_token

        env.pop("PDQ_PAGE_TOKEN", None)
        try:
            prepare_dir(settings.store.resolve())
            url += f"/?token={page_token.load(settings.store.resolve(), rotate=new_token)}"
        except (PdqError, OSError) as exc:
            _fail(PdqError(f"cannot keep the page's token in {settings.store}: {exc}"), debug)
    typer.echo(f"pdq: serving your store {settings.store.resolve()} on {url}  (Ctrl+C to stop)")
    proc = subprocess.Popen(streamlit_command(host, free), env=env)

    def _stop(signum: int, frame: Any) -> None:  # stopping pdq ui stops the server it started
        proc.terminate()

    signal.signal(signal.SIGTERM, _stop)
    if open_browser:
        threading.Thread(target=_wait_and_open, args=(url, host, free, proc), daemon=True).start()
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        code = proc.wait()
    raise typer.Exit(0 if code in (0, -2, -15) else code)


_READ_ONLY = ("search", "ask")  # commands that write nothing: they may skip the teardown


def main() -> None:
    """The ``pdq`` entry point. After a read-only command has printed everything, the process
    ends without the interpreter's teardown (Chroma's and ONNX Runtime's destructors cost a
    quarter of a second of every terminal search, with nothing left to save)."""
    import sys

    if len(sys.argv) < 2 or sys.argv[1] not in _READ_ONLY:
        app()
        return
    code: int = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    import logging
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    main()
