"""Find what to ingest under the paths a person gives, and say what each file is.

Recognises Maildir folders (``cur/``/``new/``, Maildir++ subfolders like ``.Work/``), mbox files
by content whatever their name (Thunderbird's extension-less files and ``.sbd/`` folders), single
messages (``.eml``, or any file that starts with mail headers), Outlook ``.msg``, iCalendar,
todo.txt, notes and documents. Hidden files, Thunderbird ``.msf`` indexes and paths matched by a
``.pdqignore`` file (glob patterns, one per line) in a walked folder are skipped.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.sources.documents import SUPPORTED_DOC_EXTENSIONS

logger = logging.getLogger(__name__)

NOTE_EXTENSIONS = {".md", ".markdown", ".txt", ".org", ".rst", ".text"}
CALENDAR_EXTENSIONS = {".ics", ".ical", ".ifb", ".vcs"}
MBOX_EXTENSIONS = {".mbox", ".mbx"}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp", ".webp"}
SKIP_EXTENSIONS = {".msf", ".dat", ".lock", ".tmp", ".swp", ".db", ".sqlite", ".json"}
_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]{1,40}:[ \t]*\S", re.M)
_MAIL_HEADERS = (
    b"from:",
    b"to:",
    b"subject:",
    b"date:",
    b"message-id:",
    b"received:",
    b"return-path:",
    b"mime-version:",
    b"content-type:",
    b"delivered-to:",
    b"reply-to:",
)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file to read. ``kind``: mbox, message, msg, calendar, todotxt, note, document, image
    or unsupported. ``folder`` is the mail folder name for mail; ``root`` the walked root."""

    path: Path
    kind: str
    folder: str = ""
    root: Path | None = None


def trashed(name: str) -> bool:
    """A Maildir message the mail client marked deleted: the T ("trashed") flag in its name's
    info part (``1733.M1P2.host:2,ST``). It stays on disk until the client expunges it."""
    _, sep, flags = name.rpartition(":2,")
    return bool(sep) and "T" in flags


def is_maildir(d: Path) -> bool:
    return (d / "cur").is_dir() and (d / "new").is_dir()


def sniff(path: Path) -> str:
    """'mbox', 'message', 'msg' or '' from the first bytes of a file."""
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return ""
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "msg" if path.suffix.lower() == ".msg" else ""
    if head.startswith(b"From "):
        return "mbox"
    stripped = head.lstrip(b"\r\n")
    if _HEADER_LINE.match(stripped):
        lower = stripped.lower()
        found = sum(1 for h in _MAIL_HEADERS if lower.startswith(h) or (b"\n" + h) in lower)
        if found >= 2:
            return "message"
    return ""


def classify(path: Path) -> str:
    name = path.name.lower()
    ext = path.suffix.lower()
    if ext == ".eml":
        return "message"
    if ext == ".msg":
        return "msg"
    if ext in MBOX_EXTENSIONS:
        return "mbox"
    if ext in CALENDAR_EXTENSIONS:
        return "calendar"
    if name in ("todo.txt", "done.txt") or name.endswith(".todo.txt"):
        return "todotxt"
    if ext in NOTE_EXTENSIONS:
        return sniff(path) or "note"
    if ext in SUPPORTED_DOC_EXTENSIONS:
        return "document"
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in SKIP_EXTENSIONS:
        return "skip"
    return sniff(path) or "unsupported"


def _maildir_folder(d: Path, root: Path) -> str:
    if d.name.startswith(".") and is_maildir(d.parent):  # Maildir++ ".Work.Clients"
        return d.name[1:].replace(".", "/")
    if d == root or d.name.lower() in ("maildir", ".maildir", "inbox"):
        return "INBOX" if d.name.lower() in ("maildir", ".maildir", "inbox") else d.name
    return d.name


def _mbox_folder(path: Path, root: Path) -> str:
    parts = []
    try:
        rel = path.relative_to(root if root.is_dir() else root.parent)
    except ValueError:
        rel = Path(path.name)
    for p in rel.parts[:-1]:
        if p.endswith(".sbd"):
            parts.append(p[:-4])
    stem = path.name[: -len(path.suffix)] if path.suffix.lower() in MBOX_EXTENSIONS else path.name
    parts.append(stem)
    return "/".join(parts)


def _ignore_patterns(d: Path) -> list[str]:
    f = d / ".pdqignore"
    if not f.is_file():
        return []
    return [
        ln.strip()
        for ln in f.read_text(errors="replace").splitlines()
        if ln.strip() and not ln.startswith("#")
    ]


def _ignored(p: Path, ignores: list[tuple[Path, str]]) -> bool:
    for base, pat in ignores:
        try:
            rel = str(p.relative_to(base))
        except ValueError:
            continue
        if fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(p.name, pat):
            return True
    return False


def walk(root: Path) -> Iterator[SourceFile]:
    """Every source under ``root`` (a file or a folder), in a stable order."""
    root = root.expanduser()
    if root.is_file():
        kind = classify(root)
        yield SourceFile(
            root, kind, _mbox_folder(root, root) if kind == "mbox" else root.parent.name, root
        )
        return
    ignores: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        ignores += [(d, p) for p in _ignore_patterns(d)]

        def ignored(p: Path, ignores: list[tuple[Path, str]] = ignores) -> bool:
            return _ignored(p, ignores)

        if is_maildir(d):
            folder = _maildir_folder(d, root)
            for sub in ("cur", "new"):
                for name in sorted(os.listdir(d / sub)):
                    p = d / sub / name
                    if trashed(name):  # deleted in the mail client, not yet expunged
                        continue
                    if not name.startswith(".") and p.is_file() and not ignored(p):
                        yield SourceFile(p, "message", folder, root)
            # descend only into Maildir++ subfolders and ordinary folders, never cur/new/tmp
            dirnames[:] = sorted(
                n
                for n in dirnames
                if n not in ("cur", "new", "tmp")
                and not ignored(d / n)
                and (not n.startswith(".") or is_maildir(d / n))
            )
            continue
        dirnames[:] = sorted(n for n in dirnames if not n.startswith(".") and not ignored(d / n))
        for name in sorted(filenames):
            p = d / name
            if name.startswith(".") or ignored(p) or not p.is_file():
                continue
            kind = classify(p)
            if kind == "skip":
                continue
            folder = _mbox_folder(p, root) if kind == "mbox" else d.name
            yield SourceFile(p, kind, folder, root)


def source_at(path: Path, root: Path) -> SourceFile | None:
    """The source :func:`walk` of ``root`` yields for the file ``path``, or None when it yields
    none (not a file, hidden, ignored by a ``.pdqignore`` on the way, inside a Maildir's tmp/,
    trashed, an unsupported kind). A watcher syncs one changed file this way without walking
    the whole root (a test compares both on every file of real folders)."""
    if path == root:
        return next(walk(root), None) if root.is_file() else None
    try:
        rel = path.relative_to(root)
    except ValueError:
        return None
    if not path.is_file():
        return None
    dirs = [root]
    for part in rel.parts[:-1]:
        dirs.append(dirs[-1] / part)
    parent = dirs[-1]
    in_maildir = parent.name in ("cur", "new") and len(dirs) >= 2 and is_maildir(dirs[-2])
    visited = dirs[:-1] if in_maildir else dirs  # the folders walk() lists as it descends
    ignores: list[tuple[Path, str]] = []
    for d, child in zip(visited, [*visited[1:], None], strict=True):
        ignores += [(d, p) for p in _ignore_patterns(d)]
        if child is None:
            break
        n = child.name
        if is_maildir(d):
            if n in ("cur", "new", "tmp") or (n.startswith(".") and not is_maildir(child)):
                return None
        elif n.startswith("."):
            return None
        if _ignored(child, ignores):
            return None
    if path.name.startswith(".") or _ignored(path, ignores):
        return None
    if in_maildir:
        if trashed(path.name):
            return None
        return SourceFile(path, "message", _maildir_folder(dirs[-2], root), root)
    if is_maildir(parent):
        return None
    kind = classify(path)
    if kind == "skip":
        return None
    return SourceFile(path, kind, _mbox_folder(path, root) if kind == "mbox" else parent.name, root)
