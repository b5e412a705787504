"""Keep every library pdq uses from phoning home or downloading at run time.

Called once by each entry point before the heavy libraries are imported. It sets the
environment switches of Hugging Face, unstructured, Chroma and friends to "offline / no
telemetry" unless the user already chose a value, and gives unstructured a spaCy pipeline that
needs no download (unstructured otherwise fetches ``en_core_web_sm`` from GitHub at first use).
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

# Variables pdq sets when the user has not set them. HF_HUB_OFFLINE: load only what is on disk.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",  # unstructured and others honour it
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "SCARF_NO_ANALYTICS": "true",
    "ANONYMIZED_TELEMETRY": "False",  # chromadb's env switch (pdq also passes Settings)
    "CHROMA_TELEMETRY_IMPL": "",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}

_spacy_patched = False


def apply_offline_env() -> None:
    """Set the offline/no-telemetry switches (without overriding explicit user choices)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def offline_spacy_for_unstructured() -> None:
    """Make unstructured use a blank English spaCy pipeline with a rule-based sentencizer.

    unstructured 0.27 loads ``en_core_web_sm`` in ``unstructured.nlp.tokenize._load_spacy_model``
    and pip-installs it from GitHub when missing. That model is not on PyPI, so offline it fails.
    A blank pipeline splits sentences and words correctly; only part-of-speech tags are absent,
    which shifts unstructured's NarrativeText-vs-Text labels (pdq does not rely on them).
    Patches a private function: the unstructured version is pinned and tests cover it.
    """
    global _spacy_patched
    if _spacy_patched:
        return
    import spacy
    from unstructured.nlp import tokenize

    def _blank_english() -> spacy.language.Language:
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        return nlp

    tokenize._load_spacy_model = _blank_english
    tokenize._get_nlp.cache_clear()
    _spacy_patched = True
    logger.debug("unstructured: using a blank spaCy pipeline (no model download)")
