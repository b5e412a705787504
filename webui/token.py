"""The page's token, as Jupyter's: without it, a browser session sees a locked screen and no
stored data (on a shared computer every local account can reach 127.0.0.1:8501).

The token is random (``secrets``), kept owner-only (0600) in the store folder as ``page-token``,
created on first use, replaced by ``pdq ui --new-token``, compared in constant time, and never
written to a log. ``pdq ui --no-token`` (``PDQ_PAGE_TOKEN=off`` for the server) turns it off.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

FILE = "page-token"
OFF = "off"  # PDQ_PAGE_TOKEN=off: no token (pdq ui --no-token)


def token_file(store: Path) -> Path:
    return Path(store).expanduser() / FILE


def load(store: Path, *, rotate: bool = False) -> str:
    """The store's page token, created (or replaced, with ``rotate``) owner-only."""
    path = token_file(store)
    if not rotate:
        try:
            token = path.read_text(encoding="ascii").strip()
            if token:
                return token
        except (OSError, UnicodeDecodeError):
            pass
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token)
    os.replace(tmp, path)
    return token


def required() -> bool:
    return os.environ.get("PDQ_PAGE_TOKEN", "").strip().lower() != OFF


def matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison (a wrong token takes as long to refuse as a nearly right one)."""
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())
