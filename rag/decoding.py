"""Fast batch-1 greedy decoding on a GPU: a static KV cache and a decode step compiled once into
a CUDA graph (the gpt-fast recipe), around any Hugging Face causal LM. TransformersBackend uses
it when ``llm_compile`` is on and the model is on CUDA.

transformers' ``generate`` with ``cache_implementation="static"`` compiles the same forward, but
its per-token Python (logits processors, stopping criteria, bookkeeping) costs milliseconds per
token, as long as a 7B model's forward pass on an H100; here each token costs one graph replay,
one argmax and one host sync (needed anyway to stream it). Measured in docs/benchmarks.md.

The cache is sized in buckets (1,024 / 2,048 / 4,096... positions), one compiled graph per
bucket, so a short prompt does not read a 4,096-position cache at every step and a new prompt
length does not recompile.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

BUCKETS = (1024, 2048, 4096, 8192, 16384)


class CompiledDecoder:
    """Greedy decoding for one model; create once per loaded model, reuse for every request."""

    def __init__(self, model: Any, mode: str = "reduce-overhead") -> None:
        import torch

        self.model = model
        self.device = next(model.parameters()).device
        self._caches: dict[int, Any] = {}
        self._step = torch.compile(self._forward, mode=mode, fullgraph=True)

    def _forward(self, tok: Any, pos: Any, cache: Any) -> Any:
        out = self.model(input_ids=tok, cache_position=pos, past_key_values=cache, use_cache=True)
        return out.logits[:, -1, :]

    def _cache(self, length: int) -> Any:
        import torch
        from transformers import StaticCache

        bucket = next((b for b in BUCKETS if b >= length), length)
        if bucket not in self._caches:
            self._caches[bucket] = StaticCache(config=self.model.config, max_cache_len=bucket)
        cache = self._caches[bucket]
        with torch.no_grad():  # no_grad, not inference_mode: the cache is reset between requests
            cache.reset()
        return cache

    def generate(self, input_ids: Any, max_new_tokens: int, eos_token_ids: set[int] | None = None,
                 repetition_penalty: float = 1.0) -> Iterator[int]:
        """Token ids, one at a time, greedy; stops at an end-of-sequence id (not yielded) or after
        ``max_new_tokens``. ``input_ids``: shape (1, n) on the model's device."""
        import torch

        eos = eos_token_ids or set()
        n = int(input_ids.shape[1])
        cache = self._cache(n + max_new_tokens)
        with torch.no_grad():
            pos = torch.arange(n, device=self.device)
            logits = self.model(input_ids=input_ids, cache_position=pos, past_key_values=cache,
                                use_cache=True).logits[:, -1, :]
            seen = input_ids[0]
        for i in range(max_new_tokens):
            with torch.no_grad():
                if repetition_penalty != 1.0:  # as transformers' RepetitionPenaltyLogitsProcessor
                    score = logits.gather(1, seen[None])
                    score = torch.where(score < 0, score * repetition_penalty, score / repetition_penalty)
                    logits = logits.scatter(1, seen[None], score)
                tok = logits.argmax(-1, keepdim=True)
                t = int(tok)
            if t in eos:
                return
            yield t
            if i + 1 == max_new_tokens:
                return
            with torch.no_grad():
                seen = torch.cat([seen, tok[0]])
                # the graph's output buffer is reused by the next replay: take a copy
                logits = self._step(tok, torch.tensor([n + i], device=self.device), cache).clone()
