"""pdq rag: retrieval, prompting, generation and the Python API (:class:`Assistant`)."""

from ingest.core.errors import PdqError
from ingest.core.settings import Settings, load_settings

from .answer import Answer, Source
from .assistant import Assistant
from .filters import Filters
from .status import StoreStatus

__all__ = [
    "Answer",
    "Assistant",
    "Filters",
    "PdqError",
    "Settings",
    "Source",
    "StoreStatus",
    "load_settings",
]
