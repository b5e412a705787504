"""Embedding on an OpenAI-compatible ``/v1/embeddings`` server (vLLM, text-embeddings-inference,
llama.cpp), so a big archive can be embedded on a GPU box.

:class:`RemoteEmbedder` has the same interface as the local one. ``embedding_model`` is the name
sent to the server and recorded in the store, so a store built remotely refuses a different local
model (and the other way round) unless it is the same name. The chunker still needs a tokenizer:
the model's own when it is on disk (a local path, or the packaged default), else the packaged
all-MiniLM-L6-v2 tokenizer as an estimate (chunks then stay well inside any server's limit,
``max_seq_length`` 256). Vectors are L2-normalised here (the store uses cosine distance);
per-token vectors (a server without pooling) are mean-pooled first.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from ingest.core.errors import ModelUnavailableError, RemoteError
from ingest.core.remote_client import explain, openai_client
from ingest.core.settings import DEFAULT_EMBEDDING_MODEL, Settings

logger = logging.getLogger(__name__)


def _pooled(vec: list) -> list[float]:
    """One vector per text. A server running a model without pooling (llama.cpp with a plain
    causal LM) returns one vector per token: those are mean-pooled here."""
    if vec and isinstance(vec[0], list):
        n = len(vec)
        return [sum(col) / n for col in zip(*vec, strict=True)]
    return list(vec)


class RemoteEmbedder:
    """pdq's Embedder over an OpenAI-compatible embeddings endpoint. Nothing connects until used."""

    def __init__(self, settings: Settings) -> None:
        from ingest.embedding import SentenceTransformerEmbedder

        self.name = settings.embedding_model
        self.url = settings.embedding_url
        self.settings = settings
        self._batch = max(1, settings.embed_batch_size)
        self._client: Any = None
        self._dim: int | None = None
        self._local = SentenceTransformerEmbedder(settings)  # for the tokenizer only
        self._fallback = SentenceTransformerEmbedder(
            settings.model_copy(update={"embedding_model": DEFAULT_EMBEDDING_MODEL})
        )

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = openai_client(self.url, self.settings)
        return self._client

    @property
    def tokenizer(self) -> Any:
        try:
            return self._local.tokenizer
        except ModelUnavailableError:
            return self._fallback.tokenizer

    @property
    def max_seq_length(self) -> int:
        try:
            _ = self._local.tokenizer  # the model is on disk
            return self._local.max_seq_length
        except ModelUnavailableError:
            return 256

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = len(self.embed(["dimension probe"])[0])
        return self._dim

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        out: list[list[float]] = []
        for i in range(0, len(texts), self._batch):
            batch = texts[i : i + self._batch]
            try:
                resp = self.client.embeddings.create(model=self.name, input=batch)
            except Exception as exc:
                raise explain(
                    exc,
                    self.url,
                    self.name,
                    what="embedding server",
                    model_setting="PDQ_EMBEDDING_MODEL",
                ) from exc
            rows = sorted(resp.data, key=lambda d: d.index)
            if len(rows) != len(batch):
                raise RemoteError(
                    f"the embedding server at {self.url} returned {len(rows)} vectors for {len(batch)} texts"
                )
            for r in rows:
                v = _pooled(r.embedding)
                norm = math.sqrt(sum(x * x for x in v)) or 1.0
                out.append([x / norm for x in v])
        if self._dim is None and out:
            self._dim = len(out[0])
        return out
