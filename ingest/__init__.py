"""pdq ingest: parse mail, calendars, notes, to-dos and documents into a local Chroma store.

The pipeline, in the order data flows:

- ``sources/`` — find and read: ``discovery`` (what is there) → ``readers`` (dispatch) → ``mail`` /
  ``calendar`` / ``notes`` / ``todos`` / ``documents`` (parse into ``items``);
- ``chunking`` → ``embedding`` (``remote_embedding``: a server);
- ``store/`` — Chroma + the SQLite manifest + the BM25 keyword index, written by ``writer``;
- ``pipeline`` runs it all, ``report`` says what happened;
- ``core/`` — settings, errors, privacy switches, the remote client, shared by everything.

    >>> from ingest import ingest_paths, load_settings
    >>> report = ingest_paths(["~/Mail"], load_settings())
"""

from typing import Any

from ingest.core.errors import PdqError
from ingest.core.settings import Settings, load_settings

__all__ = ["IngestReport", "PdqError", "Settings", "ingest_paths", "load_settings"]


def __getattr__(name: str) -> Any:
    # the pipeline (and every parser it imports) loads only when asked for: a search that
    # imports ingest.store does not pay for the mail, calendar and document readers
    if name == "ingest_paths":
        from ingest.pipeline import ingest_paths

        return ingest_paths
    if name == "IngestReport":
        from ingest.report import IngestReport

        return IngestReport
    raise AttributeError(name)
