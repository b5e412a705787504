"""pdq's exceptions: one base class, a few named failures, messages a person can act on.

Entry points catch :class:`PdqError` and print its message on one line (the CLI shows the
traceback only with ``--debug``). Per-item parse problems are *not* exceptions that escape: they
become :class:`ItemError`, are recorded in the ingest report and the run goes on.
"""

from __future__ import annotations


class PdqError(Exception):
    """Base of every error pdq raises on purpose."""


class ConfigError(PdqError):
    """A setting has a bad value."""


class StoreError(PdqError):
    """The store directory cannot be used (not writable, locked, corrupt)."""


class NoStoreError(StoreError):
    """Nothing has been ingested there yet (no store directory, or no collection on the server)."""


class RemoteError(PdqError):
    """A configured server (Chroma, model, embeddings) is down, slow or refuses the request."""


class StoreMismatchError(StoreError):
    """The store was built with another embedding model or chunker than the one configured."""


class ModelUnavailableError(PdqError):
    """A model is not on disk and cannot be fetched (pdq never downloads at run time)."""


class EmptyQuestionError(PdqError, ValueError):
    """An empty or blank question (the CLI exits 2, the API raises it as a ValueError)."""


class IngestError(PdqError):
    """The ingest run as a whole cannot proceed (e.g. a path that does not exist)."""


class IngestBusyError(IngestError):
    """An ingest is already running for this store (the page refuses a second one)."""


class ItemError(Exception):
    """One file or message could not be parsed. Caught by the pipeline, reported, skipped.

    ``reason`` is a short category ("encrypted", "corrupt", "too large", "empty", ...);
    ``detail`` is the human explanation.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
