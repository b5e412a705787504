"""The OpenAI-compatible client pdq uses for remote generation and remote embeddings.

One place builds the ``openai.OpenAI`` client (timeout, retries with backoff, API key never
logged) and turns its exceptions into one clear :class:`~ingest.core.errors.RemoteError` sentence.
"""

from __future__ import annotations

from typing import Any

from ingest.core.errors import RemoteError
from ingest.core.settings import Settings


def openai_client(url: str, settings: Settings) -> Any:
    """An ``openai.OpenAI`` client for ``url`` with pdq's timeout, retries and key."""
    import openai

    key = settings.llm_api_key.get_secret_value() or "not-needed"  # local servers take any key
    return openai.OpenAI(
        base_url=url, api_key=key, timeout=settings.llm_timeout, max_retries=settings.llm_retries
    )


def explain(
    exc: BaseException,
    url: str,
    model: str = "",
    what: str = "model server",
    model_setting: str = "PDQ_LLM_MODEL",
) -> RemoteError:
    """One clear sentence for what went wrong talking to the ``what`` at ``url``."""
    import openai

    there = f"the {what} at {url}"
    if isinstance(exc, openai.APITimeoutError):
        msg = f"{there} did not answer in time; it may be overloaded (PDQ_LLM_TIMEOUT raises the limit)"
    elif isinstance(exc, openai.APIConnectionError):
        msg = f"cannot reach {there}: is it running, and is the URL right (it usually ends in /v1)?"
    elif isinstance(exc, openai.NotFoundError):
        msg = (
            f"{there} has no model {model!r} (or no such endpoint); set {model_setting} to a "
            "name from its /v1/models"
        )
    elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        msg = f"{there} refused the API key (PDQ_LLM_API_KEY)"
    elif isinstance(exc, openai.APIStatusError):
        msg = f"{there} answered {exc.status_code}: {str(exc.message)[:200]}"
    else:
        msg = f"{there} failed: {type(exc).__name__}: {str(exc)[:200]}"
    return RemoteError(msg)
