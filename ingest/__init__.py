"""pdq ingest: parse mail, calendars, notes, to-dos and documents into a local Chroma store.

The pipeline, one module per stage: ``discovery`` (what is there) → ``readers`` (dispatch) →
``mail`` / ``calendar`` / ``notes`` / ``todos`` / ``documents`` (parse) → ``chunking`` →
``embedding`` → ``store`` + ``manifest`` (write), orchestrated by ``pipeline``.

    >>> from ingest import ingest_paths, load_settings
    >>> report = ingest_paths(["~/Mail"], load_settings())
"""

from .errors import PdqError
from .pipeline import ingest_paths
from .report import IngestReport
from .settings import Settings, load_settings

__all__ = ["IngestReport", "PdqError", "Settings", "ingest_paths", "load_settings"]
