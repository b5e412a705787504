"""Fakes for fast tests only (the real components are tested too): never product code."""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from ingest.embedding import DEFAULT_EMBEDDING_MODEL, resolve_model_path


class HashEmbedder:
    """A deterministic bag-of-words hashing embedder: fast tests only, never the product default.
    It shares the real tokenizer so chunking behaves exactly as in production."""

    def __init__(
        self, tokenizer: Any = None, dim: int = 64, name: str = "test-hash-embedder"
    ) -> None:
        self.name = name
        self._dim = dim
        self._tok = tokenizer
        self.calls = 0
        self.texts_embedded = 0
        self.seen: list[str] = []

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_seq_length(self) -> int:
        return 256

    @property
    def tokenizer(self) -> Any:
        if self._tok is None:
            from transformers import AutoTokenizer

            self._tok = AutoTokenizer.from_pretrained(
                resolve_model_path(DEFAULT_EMBEDDING_MODEL), local_files_only=True
            )
        return self._tok

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        self.texts_embedded += len(texts)
        self.seen.extend(texts)
        out = []
        for t in texts:
            v = [0.0] * self._dim
            for w in re.findall(r"\w+", t.lower()):
                h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=4).digest(), "little")
                v[h % self._dim] += 1.0 if (h >> 31) & 1 else -1.0
            n = math.sqrt(sum(x * x for x in v)) or 1.0
            out.append([x / n for x in v])
        return out
