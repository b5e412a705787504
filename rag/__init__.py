"""pdq rag: retrieval, prompting, generation and the Python API (:class:`Assistant`)."""

from ingest.errors import PdqError
from ingest.settings import Settings, load_settings

from .assistant import Assistant
from .status import StoreStatus

__all__ = ["Assistant", "PdqError", "Settings", "StoreStatus", "load_settings"]
