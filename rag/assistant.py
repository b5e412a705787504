"""``rag.Assistant``: the one library API that the CLI, the Streamlit page and notebooks call.

Cheap to construct: settings are resolved once, models load lazily on first use and are kept.

    >>> from rag import Assistant
    >>> a = Assistant(store="~/.local/share/pdq/store")
    >>> a.ingest(["~/Mail", "~/Documents/notes"])
    >>> a.status()
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ingest.embedding import Embedder, make_embedder
from ingest.pipeline import Progress, ingest_paths
from ingest.report import IngestReport
from ingest.settings import Settings, load_settings

from .status import StoreStatus, read_status

logger = logging.getLogger(__name__)


class Assistant:
    """pdq's API. ``Assistant(store=..., **settings)`` or ``Assistant(settings=Settings(...))``."""

    def __init__(self, store: str | Path | None = None, *, settings: Settings | None = None,
                 embedder: Embedder | None = None, **overrides: Any) -> None:
        from ingest.privacy import apply_offline_env

        apply_offline_env()
        if settings is None:
            settings = load_settings(store=store, **overrides)
        elif store is not None or overrides:
            settings = settings.model_copy(update={"store": Path(store).expanduser() if store else settings.store, **overrides})
        self.settings = settings
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder:
        """The embedding model, created on first use and kept for the Assistant's life."""
        if self._embedder is None:
            self._embedder = make_embedder(self.settings)
        return self._embedder

    def ingest(self, paths: Iterable[str | Path], *, rebuild: bool = False, dry_run: bool = False,
               progress: Progress | None = None) -> IngestReport:
        """Ingest (or re-sync) files and folders. See :func:`ingest.ingest_paths`."""
        return ingest_paths(paths, self.settings, rebuild=rebuild, dry_run=dry_run,
                            embedder=self.embedder, progress=progress)

    def status(self) -> StoreStatus:
        """What the store holds (no model is loaded)."""
        return read_status(self.settings.store)
