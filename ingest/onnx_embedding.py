"""Text to vectors on ONNX Runtime: the same sentence-transformers model, faster on CPU, no torch.

The model's transformer is exported once with ``torch.onnx.export`` (the only step that needs
torch) into ``<model_cache>/onnx/<model>-<fingerprint>/model.onnx``, next to the converted
generator; after that, embedding needs only ``onnxruntime`` and ``tokenizers``, so a terminal
``pdq search`` starts in about a second instead of paying torch's import. Pooling (mean or CLS, as
the model's ``1_Pooling/config.json`` says) and L2 normalisation (always: the store uses cosine) are done in numpy, exactly as
sentence-transformers does them: the vectors match the torch engine's to about 1e-6, so a store
built with one engine is searched with the other.

Only plain sentence-transformers models (Transformer → Pooling → optional Normalize) can be run
this way; :func:`supports` says whether a model is one, and ``make_embedder`` falls back to the
torch engine for any other.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

from ingest.core.errors import ModelUnavailableError
from ingest.core.settings import Settings

logger = logging.getLogger(__name__)

OPSET = 17
EXPORT_VERSION = "2-eager"  # part of the cache key: a change in how pdq exports re-exports
_PLAIN = {
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
}


def _modules(path: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads((path / "modules.json").read_text()))
    except (OSError, ValueError):
        return []


def supports(model_path: str) -> bool:
    """Is this a local sentence-transformers folder the ONNX engine runs exactly (a transformer,
    mean or CLS pooling, maybe normalisation, and a fast tokenizer)?"""
    path = Path(model_path)
    mods = _modules(path)
    if not mods or any(m.get("type") not in _PLAIN for m in mods):
        return False
    if not (path / "tokenizer.json").is_file() or not (path / "config.json").is_file():
        return False
    return _pooling(path) in ("mean", "cls")


def _pooling(path: Path) -> str:
    for m in _modules(path):
        if m.get("type") == "sentence_transformers.models.Pooling":
            try:
                cfg = json.loads((path / m.get("path", "1_Pooling") / "config.json").read_text())
            except (OSError, ValueError):
                return "mean"
            if cfg.get("pooling_mode_cls_token"):
                return "cls"
            if cfg.get("pooling_mode_mean_tokens", True):
                return "mean"
            return "other"
    return "mean"


def fingerprint(model_path: str) -> str:
    """Changes when the model's weights or config change (a re-export is then needed)."""
    h = hashlib.sha256(f"{EXPORT_VERSION}:{Path(model_path).resolve()}".encode())
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        f = Path(model_path) / name
        if f.is_file():
            st = f.stat()
            h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def export(model_path: str, target: Path) -> Path:
    """Export the model's transformer to ``target/model.onnx`` (atomically; needs torch)."""
    from ingest.core.privacy import apply_offline_env

    apply_offline_env()
    import torch
    from transformers import AutoModel

    class _Encoder(torch.nn.Module):
        # transformers 5's BertModel must be called by keyword (positional args hit use_cache)
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = AutoModel.from_pretrained(
        model_path, local_files_only=True, attn_implementation="eager"
    ).eval()  # eager attention exports as plain ops ONNX Runtime fuses (SDPA does not)
    dummy = torch.ones((2, 8), dtype=torch.long)
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f"model.onnx.{os.getpid()}.tmp"
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            _Encoder(model),
            (dummy, dummy, torch.zeros_like(dummy)),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "last_hidden_state": axes,
            },
            opset_version=OPSET,
            dynamo=False,
        )
    out = target / "model.onnx"
    os.replace(tmp, out)
    logger.info("exported %s to %s", model_path, out)
    return out


class TokenCounter:
    """A ``tokenizers`` tokenizer behind the part of the transformers tokenizer call the chunker
    uses: ``tok(texts, add_special_tokens=..., return_offsets_mapping=...)`` → ``input_ids``
    (and ``offset_mapping``), the same ids and offsets as transformers' fast tokenizer, which is
    this same file, without transformers' import (seconds at the start of every ingest)."""

    def __init__(self, tokenizer_json: Path) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(tokenizer_json))
        self._tok.no_truncation()
        self._tok.no_padding()

    def __call__(
        self,
        texts: str | list[str],
        add_special_tokens: bool = True,
        return_offsets_mapping: bool = False,
    ) -> dict[str, Any]:
        single = isinstance(texts, str)
        encs = self._tok.encode_batch(
            [texts] if single else list(texts), add_special_tokens=add_special_tokens
        )
        out: dict[str, Any] = {"input_ids": [e.ids for e in encs]}
        if return_offsets_mapping:
            out["offset_mapping"] = [e.offsets for e in encs]
        return {k: v[0] for k, v in out.items()} if single else out


class OnnxEmbedder:
    """A sentence-transformers model on ONNX Runtime behind pdq's Embedder interface.
    Nothing loads until first use; the export happens on the first use after install."""

    engine = "onnx"

    def __init__(self, settings: Settings, model_path: str) -> None:
        self.name = settings.embedding_model
        self._path = model_path
        self._batch = settings.embed_batch_size
        self._threads = settings.torch_threads
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", self.name.strip("/"))[-60:]
        self._dir = settings.model_cache / "onnx" / f"{slug}-{fingerprint(model_path)}"
        self._session: Any = None
        self._load_lock = threading.Lock()
        self._fast: Any = None  # tokenizers.Tokenizer (query and embedding path)
        self._counter: TokenCounter | None = None  # the chunker's tokenizer
        self._pool = _pooling(Path(model_path))

    # --- loading ------------------------------------------------------------------------------
    @property
    def model_file(self) -> Path:
        return self._dir / "model.onnx"

    @property
    def session(self) -> Any:
        with self._load_lock:
            return self._load_session()

    def _load_session(self) -> Any:
        if self._session is None:
            import onnxruntime as ort

            ort.disable_telemetry_events()  # privacy: ONNX Runtime's own usage events off

            if not self.model_file.is_file():
                try:
                    export(self._path, self._dir)
                except ImportError as exc:
                    raise ModelUnavailableError(
                        f"the ONNX copy of {self.name!r} is not built yet and building it needs "
                        f"torch, transformers and onnx ({exc}); install them or set "
                        "PDQ_EMBEDDING_ENGINE=torch"
                    ) from exc
            opts = ort.SessionOptions()
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if self._threads:
                opts.intra_op_num_threads = self._threads
            opts.log_severity_level = 3
            self._session = ort.InferenceSession(
                str(self.model_file), opts, providers=["CPUExecutionProvider"]
            )
            self._inputs = {i.name for i in self._session.get_inputs()}
            logger.info("embedding model %s loaded on ONNX Runtime", self.name)
        return self._session

    @property
    def fast_tokenizer(self) -> Any:
        if self._fast is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(Path(self._path) / "tokenizer.json"))
            tok.enable_truncation(self.max_seq_length)
            tok.no_padding()
            self._fast = tok
        return self._fast

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer as the chunker uses it, without importing transformers."""
        if self._counter is None:
            self._counter = TokenCounter(Path(self._path) / "tokenizer.json")
        return self._counter

    @property
    def max_seq_length(self) -> int:
        cfg = Path(self._path) / "sentence_bert_config.json"
        try:
            return int(json.loads(cfg.read_text()).get("max_seq_length", 256))
        except (OSError, ValueError):
            return 256

    @property
    def dim(self) -> int:
        return int(json.loads((Path(self._path) / "config.json").read_text())["hidden_size"])

    def warm(self) -> None:
        """Load what a query needs (the session and the fast tokenizer), nothing more."""
        _ = self.session, self.fast_tokenizer

    # --- embedding ----------------------------------------------------------------------------
    def embed(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        if not texts:
            return []
        sess = self.session
        encs = self.fast_tokenizer.encode_batch(texts)
        # longest first in batches of similar length: little padding, as sentence-transformers does
        order = sorted(range(len(texts)), key=lambda i: -len(encs[i].ids))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self._batch):
            idx = order[start : start + self._batch]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = sess.run(None, feeds)[0]
            if self._pool == "cls":
                vecs = hidden[:, 0, :]
            else:
                m = mask[:, :, None].astype(np.float32)
                vecs = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            # always L2-normalised, as pdq asks of sentence-transformers: the store uses cosine
            out[idx] = vecs / np.clip(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12, None)
        return out.tolist()
