"""Generation benchmark for one model: time to first token for 512- and 2,048-token prompts and
batch-1 decode tokens/s with plain ``generate``, with a static cache + ``torch.compile``, and
loaded in 4-bit; each decode rate also as a percentage of the memory-bandwidth ceiling
(bandwidth / bytes of weights read per token).

    .venv/bin/python bench/generate.py [--model ID_OR_PATH] [--bandwidth-gbs N] [--new-tokens 128]
    .venv/bin/python bench/generate.py --architecture llama-2-7b      # random weights, see below

Default model: ``auto`` as pdq resolves it (Llama 2 7B chat on a CUDA GPU when on disk, else the
packaged SmolLM2-135M on CPU). ``--architecture llama-2-7b`` (or ``llama-2-13b``) times a model
of exactly that shape with random weights (bench/random_llama.py), for GPU machines that cannot
download Meta's checkpoint: the bytes read per token, and so the speed, are the same. The
bandwidth is looked up for known GPUs, measured with a large array copy on CPU, or given with
``--bandwidth-gbs``. Two compiled variants: pdq's own decode loop (rag/decoding.py, what
``llm_compile`` runs) and transformers' automatic compilation of ``generate``'s decoding step
(static cache + ``CompileConfig``); both use CUDA graphs on a GPU and are skipped on CPU unless
``--compile-on-cpu``. 4-bit needs CUDA (bitsandbytes) and is skipped elsewhere. ``--skip``
leaves variants out.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GPU_BANDWIDTH_GBS = {  # peak HBM/GDDR bandwidth, GB/s (vendor figures)
    "H200": 4800,
    "H100 SXM": 3350,
    "H100 80GB HBM3": 3350,
    "H100 PCIe": 2000,
    "H100 NVL": 3900,
    "H100": 3350,
    "A100-SXM4-80GB": 2039,
    "A100 80GB PCIe": 1935,
    "A100-SXM4-40GB": 1555,
    "A100": 1555,
    "L40S": 864,
    "L4": 300,
    "A10": 600,
    "RTX 4090": 1008,
    "RTX 3090": 936,
    "T4": 320,
    "V100": 900,
}


def bandwidth(device: str, given: float | None) -> tuple[float, str]:
    if given:
        return given, "given"
    import torch

    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(0)
        for key, bw in GPU_BANDWIDTH_GBS.items():
            if key.lower() in name.lower():
                return float(bw), f"{name} (spec)"
        raise SystemExit(f"unknown GPU {name!r}: pass --bandwidth-gbs")
    import numpy as np

    a = np.ones(256 * 1024 * 1024 // 8)  # 256 MB
    b = np.empty_like(a)
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        np.copyto(b, a)
        best = max(best, 2 * a.nbytes / (time.perf_counter() - t) / 1e9)  # read + write
    return best, "CPU, measured with a 256 MB copy"


def copy_bandwidth_gpu() -> float:
    """GB/s of a 4 GB device-to-device copy (bytes read + written), best of 5."""
    import torch

    a = torch.empty(2 * 1024**3, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    best = 0.0
    for _ in range(5):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        b.copy_(a)
        end.record()
        end.synchronize()
        best = max(best, 2 * a.numel() / (start.elapsed_time(end) / 1000) / 1e9)
    del a, b
    torch.cuda.empty_cache()
    return best


def weight_bytes(model) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters()) + sum(
        b.numel() * b.element_size() for b in model.buffers()
    )


def prompt_ids(tok, n: int, device: str):
    import torch

    filler = (
        "Email from Anna to Sam about the quarterly budget review, the hosting costs, the offsite in "
        "April and the contractor quotes that still need to be sent to Ben before Friday. "
    )
    ids = tok(filler * (n // 20 + 2), return_tensors="pt", add_special_tokens=False)["input_ids"][
        :, :n
    ]
    return ids.to(device), torch.ones_like(ids).to(device)


def measure(model, tok, device: str, n_prompt: int, new_tokens: int, sync) -> tuple[float, float]:
    import torch

    ids, mask = prompt_ids(tok, n_prompt, device)
    kw = {"do_sample": False, "pad_token_id": tok.eos_token_id or 0}
    with torch.inference_mode():
        # warm up at full length twice: a static cache is sized by the first call (later, shorter
        # calls reuse it) and compilation / CUDA-graph capture happen on the first calls
        for _ in range(2):
            model.generate(
                ids, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **kw
            )
        sync()
        t = time.perf_counter()
        model.generate(ids, attention_mask=mask, max_new_tokens=1, min_new_tokens=1, **kw)
        sync()
        ttft = time.perf_counter() - t
        t = time.perf_counter()
        out = model.generate(
            ids, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **kw
        )
        sync()
        total = time.perf_counter() - t
    n_new = out.shape[1] - ids.shape[1]
    return ttft, (n_new - 1) / max(1e-9, total - ttft)


def measure_decoder(
    decoder, tok, device: str, n_prompt: int, new_tokens: int
) -> tuple[float, float]:
    """pdq's own decode loop (rag/decoding.py): each yielded token has been synced to the host."""
    ids, _ = prompt_ids(tok, n_prompt, device)
    for _ in range(2):  # compile + graph capture for this cache bucket
        for _ in decoder.generate(ids, new_tokens):
            pass
    t = time.perf_counter()
    it = decoder.generate(ids, new_tokens)
    next(it)
    ttft = time.perf_counter() - t
    n = 1 + sum(1 for _ in it)
    total = time.perf_counter() - t
    if decoder.cuda:
        step = decoder.step_time(ids, new_tokens)
        print(
            f"(prompt {n_prompt}: GPU time per compiled step with the host not waiting: {1000 * step:.2f} ms "
            f"= {1 / step:.1f} tok/s)"
        )
    return ttft, (n - 1) / max(1e-9, total - ttft)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="auto")
    ap.add_argument("--bandwidth-gbs", type=float)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--prompts", type=int, nargs="+", default=[512, 2048])
    ap.add_argument("--compile-on-cpu", action="store_true")
    ap.add_argument(
        "--architecture",
        help="time a random-weight model of this shape: "
        "llama-2-7b, llama-2-13b, llama-debug (bench/random_llama.py)",
    )
    ap.add_argument(
        "--scratch",
        type=Path,
        help="where --architecture writes its checkpoint (default: a temp dir)",
    )
    ap.add_argument("--skip", nargs="*", default=[], choices=["plain", "loop", "compile", "4bit"])
    args = ap.parse_args()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, CompileConfig

    from ingest.core.privacy import apply_offline_env
    from ingest.core.settings import load_settings
    from rag.generation import resolve_model

    apply_offline_env()
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    dtype = (
        (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
        if cuda
        else torch.float32
    )
    if args.architecture:
        import tempfile

        from bench.random_llama import write_random_checkpoint

        scratch = args.scratch or Path(tempfile.mkdtemp(prefix="pdq-bench-"))
        name = f"{args.architecture} shape, random weights"
        if (scratch / "config.json").exists():  # written by an earlier run with the same --scratch
            path = str(scratch)
        else:
            t = time.perf_counter()
            path = str(
                write_random_checkpoint(
                    args.architecture, scratch, str(dtype).removeprefix("torch."), device
                )
            )
            print(f"wrote {name} to {path} in {time.perf_counter() - t:.0f} s")
    else:
        path, name = resolve_model(load_settings(llm_model=args.model))
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    bw, bw_note = bandwidth(device, args.bandwidth_gbs)
    tok = AutoTokenizer.from_pretrained(path)
    print(
        f"model: {name} ({path}) on {device} [{torch.cuda.get_device_name(0) if cuda else 'CPU'}], "
        f"{torch.get_num_threads()} torch threads; bandwidth {bw:.0f} GB/s ({bw_note})"
    )
    if cuda:
        measured = copy_bandwidth_gpu()
        print(
            f"measured device-to-device copy: {measured:.0f} GB/s ({100 * measured / bw:.0f}% of the figure the "
            f"ceiling uses); weights-only ceiling, the KV cache read per token is extra"
        )
    print(
        "| variant | weights (GB) | prompt | first token (s) | decode (tok/s) | ceiling (tok/s) | % of ceiling |"
    )
    print("|---|---|---|---|---|---|---|")

    def report(variant: str, model, decoder=None) -> None:
        wb = weight_bytes(model)
        ceiling = bw * 1e9 / wb
        for n in args.prompts:
            try:
                if decoder is not None:
                    ttft, rate = measure_decoder(decoder, tok, device, n, args.new_tokens)
                else:
                    ttft, rate = measure(model, tok, device, n, args.new_tokens, sync)
            except Exception as exc:  # e.g. a prompt longer than the model's window
                print(
                    f"| {variant} | {wb / 1e9:.2f} | {n} | failed: {type(exc).__name__}: {str(exc)[:80]} | | | |"
                )
                continue
            print(
                f"| {variant} | {wb / 1e9:.2f} | {n} | {ttft:.3f} | {rate:.1f} | {ceiling:.0f} | {100 * rate / ceiling:.0f}% |",
                flush=True,
            )

    kwargs = {"dtype": dtype}
    if cuda:
        kwargs["device_map"] = "cuda"
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs).eval()
    if "plain" not in args.skip:
        report(f"plain generate ({str(dtype).removeprefix('torch.')})", model)
    if "loop" in args.skip:
        pass
    elif cuda or args.compile_on_cpu:
        from rag.decoding import CompiledDecoder

        t = time.perf_counter()
        report(
            "static cache + compiled step, pdq's loop (llm_compile)",
            model,
            CompiledDecoder(model, mode="reduce-overhead" if cuda else "default"),
        )
        print(f"(pdq loop, warm-ups included: {time.perf_counter() - t:.0f} s)")
    else:
        print(
            "| static cache + compiled step, pdq's loop | skipped on CPU (--compile-on-cpu to try) | | | | | |"
        )
    if "compile" in args.skip:
        pass
    elif cuda or args.compile_on_cpu:
        # transformers' generate compiles the decoding step itself when the cache is static
        model.generation_config.cache_implementation = "static"
        cc = CompileConfig(fullgraph=True, mode="reduce-overhead" if cuda else "default")
        cc._compile_all_devices = not cuda or None
        model.generation_config.compile_config = cc
        t = time.perf_counter()
        report("static cache + torch.compile", model)
        print(f"(compile variant, warm-ups included: {time.perf_counter() - t:.0f} s)")
    else:
        print(
            "| static cache + torch.compile | skipped on CPU (--compile-on-cpu to try) | | | | | |"
        )
    del model
    if "4bit" in args.skip:
        pass
    elif cuda:
        torch.cuda.empty_cache()
        try:
            from transformers import BitsAndBytesConfig

            q = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_compute_dtype=dtype, bnb_4bit_quant_type="nf4"
            )
            model = AutoModelForCausalLM.from_pretrained(
                path, quantization_config=q, device_map="cuda"
            ).eval()
            report("4-bit nf4 (bitsandbytes)", model)
        except Exception as exc:
            print(f"| 4-bit | failed: {type(exc).__name__}: {str(exc)[:100]} | | | | | |")
    else:
        print("| 4-bit nf4 | skipped: needs CUDA (bitsandbytes) | | | | | |")


if __name__ == "__main__":
    main()
