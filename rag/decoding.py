"""Fast batch-1 greedy decoding on a GPU: a static KV cache and a decode step compiled once into
a CUDA graph (the gpt-fast recipe), around any Hugging Face causal LM. TransformersBackend uses
it when ``llm_compile`` is on (on CPU too, compiled without CUDA graphs).

transformers' ``generate`` with ``cache_implementation="static"`` compiles the same forward, but
its per-token Python (logits processors, stopping criteria, bookkeeping) costs milliseconds per
token, as long as a 7B model's forward pass on an H100; here each token costs one graph replay,
one argmax and one host sync (needed anyway to stream it). Measured in docs/benchmarks.md.

The cache is sized in buckets (1,024 / 2,048 / 3,072 / 4,096... positions), one compiled graph per
bucket, so a short prompt does not read a 4,096-position cache at every step and a new prompt
length does not recompile.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_END = object()


def _graph_tls() -> None:
    """CUDA-graph trees keep their state per thread. torch >= 2.13 sets it up in any thread; older
    versions only in the thread that imported cudagraph_trees (seen failing on 2.11 when a second
    thread replayed a graph), so set it up here the way that module does."""
    try:
        from collections import defaultdict

        import torch
        from torch._inductor import cudagraph_trees as ct

        if hasattr(ct.local, "tree_manager_containers") or torch._C._is_key_in_tls(
            "tree_manager_containers"
        ):
            return
        ct.local.tree_manager_containers = {}
        ct.local.tree_manager_locks = defaultdict(threading.Lock)
        torch._C._stash_obj_in_tls("tree_manager_containers", ct.local.tree_manager_containers)
        torch._C._stash_obj_in_tls("tree_manager_locks", ct.local.tree_manager_locks)
    except Exception:  # a torch without these internals manages its own thread state
        pass


_pool: list[ThreadPoolExecutor] = []
_pool_lock = threading.Lock()


def _decode_thread() -> ThreadPoolExecutor:
    """The process's one decoding thread, shared by every decoder: CUDA graphs are recorded and
    replayed per thread, and one GPU serves one batch-1 request at a time anyway."""
    with _pool_lock:
        if not _pool:
            _pool.append(
                ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="pdq-decode", initializer=_graph_tls
                )
            )
        return _pool[0]


BUCKETS = (1024, 2048, 3072, 4096, 6144, 8192, 12288, 16384)


class CompiledDecoder:
    """Greedy decoding for one model; create once per loaded model, reuse for every request.

    One compiled step does the forward pass, the repetition penalty (on a "seen" mask, as
    transformers' RepetitionPenaltyLogitsProcessor: float32 logits, divided when positive,
    multiplied when negative) and the argmax, so the host only replays a graph per token. On a
    GPU the next step is queued before the host waits for the current token (copied to pinned
    memory), so streaming costs no GPU idle time."""

    def __init__(self, model: Any, mode: str = "reduce-overhead") -> None:
        import torch

        self.model = model
        self.device = next(model.parameters()).device
        self.cuda = self.device.type == "cuda"
        self._caches: dict[int, Any] = {}
        self._step = torch.compile(self._forward, mode=mode, fullgraph=True)
        # CUDA graphs are recorded per thread and the static caches are shared state: every
        # request runs on the one decoding thread, so graphs are captured once and requests queue
        self._worker = _decode_thread()

    def _pick(self, logits: Any, seen: Any, penalty: Any) -> tuple[Any, Any]:
        import torch

        logits = logits.float()  # penalty: a 0-d tensor, so a new value does not recompile
        logits = torch.where(
            seen, torch.where(logits < 0, logits * penalty, logits / penalty), logits
        )
        tok = logits.argmax(-1, keepdim=True)
        return tok, seen.scatter(1, tok, True)

    def _forward(
        self, tok: Any, pos: Any, seen: Any, cache: Any, penalty: Any
    ) -> tuple[Any, Any, Any]:
        out = self.model(input_ids=tok, cache_position=pos, past_key_values=cache, use_cache=True)
        nxt, seen = self._pick(out.logits[:, -1, :], seen, penalty)
        return nxt, pos + 1, seen

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

    def generate(
        self,
        input_ids: Any,
        max_new_tokens: int,
        eos_token_ids: set[int] | None = None,
        repetition_penalty: float = 1.0,
    ) -> Iterator[int]:
        """Token ids, one at a time, greedy; stops at an end-of-sequence id (not yielded) or after
        ``max_new_tokens``. ``input_ids``: shape (1, n) on the model's device. Safe to call from
        any thread: the work runs on the decoder's own thread, one request at a time."""
        q: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()

        def produce() -> None:
            try:
                for t in self._tokens(
                    input_ids, max_new_tokens, eos_token_ids or set(), repetition_penalty
                ):
                    q.put(t)
                    if stop.is_set():
                        break
                q.put(_END)
            except BaseException as exc:  # handed to the caller's thread
                q.put(exc)

        self._worker.submit(produce)
        try:
            while True:
                item = q.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

    def _tokens(
        self, input_ids: Any, max_new_tokens: int, eos: set[int], repetition_penalty: float
    ) -> Iterator[int]:
        import torch

        n = int(input_ids.shape[1])
        cache = self._cache(n + max_new_tokens)
        penalty = torch.tensor(float(repetition_penalty), device=self.device)
        with torch.no_grad():
            logits = self.model(
                input_ids=input_ids,
                cache_position=torch.arange(n, device=self.device),
                past_key_values=cache,
                use_cache=True,
            ).logits[:, -1, :]
            seen = torch.zeros(logits.shape, dtype=torch.bool, device=self.device).scatter(
                1, input_ids, True
            )
            tok, seen = self._pick(logits, seen, penalty)
            pos = torch.tensor([n], device=self.device)
        host = torch.empty((1, 1), dtype=torch.long, pin_memory=self.cuda)
        for i in range(max_new_tokens):
            with torch.no_grad():
                host.copy_(tok, non_blocking=self.cuda)
                ready = None
                if self.cuda:
                    ready = torch.cuda.Event()
                    ready.record()
                if i + 1 < max_new_tokens:  # queue the next step before waiting for this token
                    tok, pos, seen = (x.clone() for x in self._step(tok, pos, seen, cache, penalty))
            if ready is not None:
                ready.synchronize()
            t = int(host[0, 0])
            if t in eos:
                return
            yield t

    def step_time(self, input_ids: Any, steps: int = 100) -> float:
        """Seconds of GPU time per compiled decode step, with nothing waiting on the host (for
        bench/generate.py: the loop's ceiling)."""
        for _ in self.generate(input_ids, steps):  # compiled and captured for this bucket
            pass
        return min(
            self._worker.submit(self._time_steps, input_ids, steps).result() for _ in range(3)
        )

    def _time_steps(self, input_ids: Any, steps: int) -> float:
        import torch

        n = int(input_ids.shape[1])
        cache = self._cache(n + steps)
        with torch.no_grad():
            tok = input_ids[:, -1:]
            pos = torch.tensor([n], device=self.device)
            seen = torch.zeros(
                (1, self.model.config.vocab_size), dtype=torch.bool, device=self.device
            )
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            one = torch.tensor(1.0, device=self.device)
            start.record()
            for _ in range(steps):
                tok, pos, seen = (x.clone() for x in self._step(tok, pos, seen, cache, one))
            end.record()
            end.synchronize()
        return start.elapsed_time(end) / 1000 / steps
