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

from ingest.errors import PdqError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="pdq: a private assistant for your own mail, calendar and notes. Nothing leaves your machine.")

StoreOpt = Annotated[Path | None, typer.Option("--store", help="Store directory (default: PDQ_STORE, config file, or ~/.local/share/pdq/store).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Verbose logs and full tracebacks.")]


def _setup_logging(debug: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "chromadb", "urllib3", "sentence_transformers", "unstructured", "pdfminer", "pikepdf"):
        logging.getLogger(noisy).setLevel(logging.INFO if debug else logging.ERROR)


def _assistant(store: Path | None, debug: bool, **overrides: Any) -> Any:
    from ingest.privacy import apply_offline_env

    apply_offline_env()
    from .assistant import Assistant

    return Assistant(store=store, debug=debug or None, **overrides)


def _fail(exc: BaseException, debug: bool) -> None:
    if debug:
        raise exc
    typer.echo(f"pdq: error: {exc}", err=True)
    raise typer.Exit(1)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Mail folders (Maildir, mbox, .eml, .msg), calendars, notes, documents.")],
    store: StoreOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Delete the store's contents and embed everything again.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Parse and chunk only; embed and store nothing.")] = False,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Parse, chunk, embed and store everything under PATHS; re-runs only do what changed."""
    _setup_logging(debug)
    try:
        a = _assistant(store, debug)
        show = not as_json and sys.stderr.isatty()
        if show:
            report = _with_progress(a, paths, rebuild, dry_run)
        else:
            report = a.ingest(paths, rebuild=rebuild, dry_run=dry_run)
    except PdqError as exc:
        _fail(exc, debug)
        return
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else str(report))


def _with_progress(a: Any, paths: list[Path], rebuild: bool, dry_run: bool) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("ingest", total=None, rate="")
        started: list[float] = []

        def update(ev: dict[str, Any]) -> None:
            import time

            if not started:
                started.append(time.perf_counter())
            dt = max(1e-6, time.perf_counter() - started[0])
            rate = f"{ev['items']} items, {ev['chunks']} chunks ({ev['items'] / dt:.0f} items/s, {ev['chunks'] / dt:.1f} chunks/s)"
            bar.update(task, completed=ev["files_done"], total=ev["files_total"] or None, rate=rate)

        return a.ingest(paths, rebuild=rebuild, dry_run=dry_run, progress=update)


@app.command()
def status(store: StoreOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Show what the store holds: items by kind, chunks, dates, models, size, last sync."""
    _setup_logging(debug)
    try:
        st = _assistant(store, debug).status()
    except PdqError as exc:
        _fail(exc, debug)
        return
    typer.echo(json.dumps(st.to_dict(), indent=2) if as_json else str(st))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
