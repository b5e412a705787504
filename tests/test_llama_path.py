"""The production generation path - rag.generation.TransformersBackend given a Llama-architecture
checkpoint by path, as Llama 2 is given in production - on CPU always, and on a CUDA GPU (bf16
with device_map, 4-bit nf4, static cache + compile) when there is one. CI has no GPU, so the GPU
cases skip there with that reason. On an H100 (docs/benchmarks.md) 7 of 8 passed; the eighth found
a CUDA-graph thread-state failure on torch 2.11, fixed in rag/decoding.py after the GPU time was
spent, so the GPU run of the fix is still to do.

The checkpoint is Llama-shaped with random weights and a byte-level tokenizer
(bench/random_llama.py): no weights can be downloaded here, and what is checked is loading,
placement, dtype, quantisation, compilation and streaming, not answer quality (the packaged
SmolLM2 tests cover that)."""

from __future__ import annotations

import importlib.util
from datetime import datetime
from pathlib import Path

import pytest

NOW = datetime(2026, 3, 11, 9, 0)
needs_cuda = pytest.mark.skipif(
    not (importlib.util.find_spec("torch") and __import__("torch").cuda.is_available()),
    reason="needs a CUDA GPU (none here; CI has none)",
)


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bench.random_llama import write_random_checkpoint

    return write_random_checkpoint("llama-debug", tmp_path_factory.mktemp("llama"), dtype="float32")


def backend(llama_dir: Path, tmp_path: Path, **overrides):
    from ingest.core.settings import load_settings
    from rag.generation import TransformersBackend

    s = load_settings(
        store=tmp_path / "store", llm_model=str(llama_dir), llm_max_new_tokens=24, **overrides
    )
    return TransformersBackend(s)


def prompt_for(b, question: str):
    """pdq's prompt for ``question`` over one retrieved mail, fitted to ``b``'s window."""
    from rag.answer import Source
    from rag.prompt import build

    src = Source(
        item_id="m1",
        chunk_id="m1#0",
        kind="email",
        title="Dentist moved",
        text="The dentist appointment moved to Thursday 19 March at 10:30.",
        sender="Dr Patel",
    )
    return build(
        question, [src], now=NOW, count_tokens=b.count_tokens, budget=b.prompt_budget, small=b.small
    )


def generate(b, question: str = "When is the dentist?") -> str:
    return "".join(b.stream(prompt_for(b, question), question))


def load_model(llama_dir: Path, device: str, dtype):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(llama_dir, dtype=dtype).to(device).eval()


def test_a_local_llama_checkpoint_loads_renders_llama2_prompts_and_streams_on_cpu(
    llama_dir, tmp_path
):
    b = backend(llama_dir, tmp_path, llm_device="cpu")
    b.load()
    assert b.name == str(llama_dir) and b.device == "cpu" and b.small
    rendered = b.render(prompt_for(b, "q?"))
    assert rendered.startswith("<s>[INST] <<SYS>>") and rendered.rstrip().endswith(
        "[/INST]"
    )  # Llama 2's
    first = generate(b)
    assert first and first == generate(b)  # greedy: the same question gives the same text


def test_cpu_rejects_4bit_with_a_clear_message(llama_dir, tmp_path):
    from ingest.core.errors import ConfigError

    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        backend(llama_dir, tmp_path, llm_device="cpu", llm_quantize="4bit").load()


@needs_cuda
def test_on_the_gpu_it_loads_in_half_precision_and_streams(llama_dir, tmp_path):
    import torch

    b = backend(llama_dir, tmp_path, llm_device="cuda")
    b.load()
    assert b.device.startswith("cuda")
    assert next(b.model.parameters()).dtype in (torch.bfloat16, torch.float16)
    assert b.context_window == 4096  # the GPU window (CPU keeps 2048)
    first = generate(b)
    assert first and first == generate(b)


@needs_cuda
def test_on_the_gpu_4bit_quantises_the_linear_layers(llama_dir, tmp_path):
    pytest.importorskip("bitsandbytes", reason="bitsandbytes is not installed")
    import bitsandbytes as bnb

    b = backend(llama_dir, tmp_path, llm_device="cuda", llm_quantize="4bit")
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in b.model.modules())
    assert generate(b)


@needs_cuda
def test_on_the_gpu_static_cache_and_compile_stream_the_same_text(llama_dir, tmp_path):
    eager = generate(backend(llama_dir, tmp_path, llm_device="cuda"))
    b = backend(llama_dir, tmp_path, llm_device="cuda", llm_compile=True)
    b.load()
    assert b._decoder is not None
    compiled = generate(b)
    assert compiled and generate(b) == compiled  # the captured graph is replayed, same text
    # bf16 kernels may pick a different argmax after many steps; the start must agree
    assert compiled[:8] == eager[:8]


@needs_cuda
def test_on_the_gpu_the_compiled_loop_matches_generate_token_for_token(llama_dir):
    import torch

    # float32 (TF32 off, PyTorch's default): bf16 kernels fused differently may flip a near-tie
    _compare_with_generate(llama_dir, "cuda", torch.float32)


def _compare_with_generate(llama_dir: Path, device: str, dtype, prefix: int | None = None) -> None:
    """rag.decoding's loop yields the tokens of transformers' greedy generate, with and without
    the repetition penalty pdq uses, over two cache buckets."""
    import torch

    from rag.decoding import CompiledDecoder

    model = load_model(llama_dir, device, dtype)
    dec = CompiledDecoder(model, mode="reduce-overhead" if device == "cuda" else "default")
    torch.manual_seed(1)
    for n_prompt, penalty in ((40, 1.0), (40, 1.05), (1100, 1.05)):
        ids = torch.randint(3, 259, (1, n_prompt), device=device)
        with torch.inference_mode():
            ref = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=20,
                do_sample=False,
                repetition_penalty=penalty,
                eos_token_id=None,
                pad_token_id=0,
            )[0, n_prompt:].tolist()
        got = list(dec.generate(ids, 20, repetition_penalty=penalty))
        assert len(got) == 20
        assert got[:prefix] == ref[:prefix], (n_prompt, penalty)


@pytest.mark.slow
def test_the_compiled_loop_matches_generate_token_for_token_on_cpu(llama_dir):
    import torch

    _compare_with_generate(llama_dir, "cpu", torch.float32)


@pytest.mark.slow
def test_static_cache_and_compile_on_cpu_stream_the_same_text(llama_dir, tmp_path):
    """llm_compile goes through rag/decoding.py's compiled loop; CI has no GPU, so this is where
    CI exercises that path (on CPU, float32: exactly the text of eager generate)."""
    eager = generate(backend(llama_dir, tmp_path, llm_device="cpu"))
    b = backend(llama_dir, tmp_path, llm_device="cpu", llm_compile=True)
    b.load()
    assert b._decoder is not None
    assert generate(b) == eager


@pytest.mark.slow
def test_the_compiled_loop_serves_requests_from_several_threads(llama_dir):
    """The page and the API call it from their own threads; requests queue on its one thread
    and each gets the tokens it would get alone."""
    import threading

    import torch

    from rag.decoding import CompiledDecoder

    model = load_model(llama_dir, "cpu", torch.float32)
    dec = CompiledDecoder(model, mode="default")
    prompts = [
        torch.randint(3, 259, (1, 30 + 7 * i), generator=torch.Generator().manual_seed(i))
        for i in range(4)
    ]
    alone = [list(dec.generate(p, 12, repetition_penalty=1.05)) for p in prompts]
    got: dict[int, list[int]] = {}
    threads = [
        threading.Thread(
            target=lambda i=i: got.__setitem__(
                i, list(dec.generate(prompts[i], 12, repetition_penalty=1.05))
            )
        )
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert [got[i] for i in range(4)] == alone
    first_two = []
    for t in dec.generate(prompts[0], 12):  # a reader that stops early frees the thread
        first_two.append(t)
        if len(first_two) == 2:
            break
    assert list(dec.generate(prompts[1], 12, repetition_penalty=1.05)) == alone[1]
