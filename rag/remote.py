"""Generation on an OpenAI-compatible chat-completions server (vLLM, TGI, llama.cpp, ...).

:class:`RemoteBackend` sends pdq's prompt messages to ``settings.llm_url`` with the maintained
``openai`` client: streaming, a timeout (``llm_timeout``), retries with exponential backoff
(``llm_retries``, the client's own), the API key from ``llm_api_key`` (never logged). Greedy
decoding (temperature 0), like the local backend. ``llm_model`` names the served model; ``auto``
asks the server for its first model. Failures become :class:`~ingest.core.errors.RemoteError` with a
message that says what to check (server down, too slow, unknown model name).

Nothing here runs at import; ``openai`` is imported on first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

from ingest.core.errors import RemoteError
from ingest.core.remote_client import explain, openai_client
from ingest.core.settings import Settings

from .prompt import Prompt

logger = logging.getLogger(__name__)

CHARS_PER_TOKEN = 3.0  # no tokenizer for a remote model: a conservative estimate for budgeting


class RemoteBackend:
    """pdq's Backend over an OpenAI-compatible ``/v1/chat/completions`` endpoint."""

    small = False  # a served model is assumed capable; its answers still get the grounding note

    def __init__(self, settings: Settings) -> None:
        if not settings.llm_url:
            raise RemoteError("llm_backend is 'remote' but no llm_url (PDQ_LLM_URL) is set")
        self.settings = settings
        self.url = settings.llm_url
        self._model = "" if settings.llm_model in ("auto", "") else settings.llm_model
        self._client: Any = None
        self._checked = False
        self._lock = threading.RLock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = openai_client(self.url, self.settings)
            return self._client

    @property
    def model(self) -> str:
        """The served model's name: the configured one (checked once against the server's
        /v1/models: some servers answer with whatever they serve), else the server's first."""
        with self._lock:
            if self._checked:
                return self._model
            import openai

            try:
                served = [m.id for m in self.client.models.list()]
            except openai.NotFoundError:  # a server without /v1/models: take the name on trust
                served = []
            except Exception as exc:
                raise explain(exc, self.url, self._model) from exc
            if not self._model:
                if not served:
                    raise RemoteError(
                        f"the model server at {self.url} serves no model; set PDQ_LLM_MODEL"
                    )
                self._model = served[0]
            elif served and self._model not in served:
                raise RemoteError(
                    f"the model server at {self.url} has no model {self._model!r} (it serves "
                    f"{', '.join(repr(m) for m in served[:5])}); set PDQ_LLM_MODEL to one of them"
                )
            self._checked = True
            return self._model

    @property
    def name(self) -> str:
        return f"{self._model or 'remote model'} at {self.url}"

    @property
    def prompt_budget(self) -> int:
        window = self.settings.llm_context_tokens or 4096  # Llama 2's window unless told
        return window - self.settings.llm_max_new_tokens

    def count_tokens(self, text: str) -> int:
        return int(len(text) / CHARS_PER_TOKEN) + 1

    def _create(self, prompt: Prompt, stream: bool) -> Any:
        return self.client.chat.completions.create(
            model=self.model,
            messages=prompt.messages,
            stream=stream,
            temperature=0,
            max_tokens=self.settings.llm_max_new_tokens,
        )

    def stream(self, prompt: Prompt, question: str) -> Iterator[str]:
        try:
            for chunk in self._create(prompt, stream=True):
                piece = chunk.choices[0].delta.content if chunk.choices else None
                if piece:
                    yield piece
        except RemoteError:
            raise
        except Exception as exc:
            raise explain(exc, self.url, self._model) from exc

    def loaded(self) -> bool:
        return self._checked

    def complete(self, prompt: Prompt, question: str = "") -> str:
        """The whole answer in one request (no streaming)."""
        try:
            out = self._create(prompt, stream=False)
        except RemoteError:
            raise
        except Exception as exc:
            raise explain(exc, self.url, self._model) from exc
        return (out.choices[0].message.content or "").strip()
