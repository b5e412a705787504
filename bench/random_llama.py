"""Llama-architecture checkpoints with random weights, for speed measurements and GPU tests on
machines that cannot download real weights.

Decode speed depends on the shapes of the weights, not on their values: a Llama-2-7B-shaped model
with random bf16 weights reads exactly the bytes per token that Meta's checkpoint reads (vLLM's
``--load-format dummy`` benchmarks the same way). Its answers are noise, so it is for timing and
for exercising the loading/generation code (device placement, dtype, 4-bit, compile, streaming),
never for quality.

The tokenizer is byte-level (one token per byte, 259 ids) and built here, so nothing is fetched;
it has no chat template, so pdq renders prompts with Llama 2's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Meta's published configurations (config.json of meta-llama/Llama-2-*-hf)
ARCHS: dict[str, dict[str, Any]] = {
    "llama-2-7b": dict(
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
    ),
    "llama-2-13b": dict(
        hidden_size=5120,
        intermediate_size=13824,
        num_hidden_layers=40,
        num_attention_heads=40,
        num_key_value_heads=40,
    ),
    # small enough for a CPU check of the scripts and for the tests; its vocabulary is the byte
    # tokenizer's, so every token it picks decodes to text
    "llama-debug": dict(
        hidden_size=256,
        intermediate_size=688,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        vocab_size=259,
        initializer_range=0.1,
    ),
}
COMMON = dict(
    vocab_size=32000,
    max_position_embeddings=4096,
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
    hidden_act="silu",
    tie_word_embeddings=False,
    bos_token_id=1,
    eos_token_id=2,
)


def byte_tokenizer() -> Any:
    """A byte-level BPE tokenizer with no merges: ids 0-2 are <unk>, <s>, </s>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>"]
    vocab = {t: i for i, t in enumerate(specials + sorted(pre_tokenizers.ByteLevel.alphabet()))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )


def write_random_checkpoint(
    arch: str, out: Path, dtype: str = "bfloat16", device: str = "cpu", seed: int = 0
) -> Path:
    """Save a ``arch``-shaped LlamaForCausalLM with random weights (built on ``device``, so a 7B
    model is initialised on the GPU in seconds) and the byte tokenizer to ``out``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if arch not in ARCHS:
        raise SystemExit(f"unknown architecture {arch!r}; one of {', '.join(ARCHS)}")
    torch.manual_seed(seed)
    cfg = LlamaConfig(**{**COMMON, **ARCHS[arch]})
    with torch.device(device):
        model = LlamaForCausalLM._from_config(cfg, dtype=getattr(torch, dtype))
    # random weights never "decide" to stop: the measured decode length is the one asked for
    model.generation_config.eos_token_id = None
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    byte_tokenizer().save_pretrained(out)
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return out
