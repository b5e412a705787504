"""The manifest: a SQLite file in the store that remembers what was ingested from where.

Tables:
- ``sources``: every file seen (path, size, mtime, kind) - an unchanged size+mtime means the
  file is not even opened on the next run. For an mbox also the offset it was read up to and a
  hash of the bytes before it, so an append is read from there on.
- ``items``: every stored item (id, kind, content hash, number of chunks, title, date, and
  whether its chunks are embedded yet: ingest stores text first and embeds afterwards).
- ``links``: which source (and where in it) each item came from; one message in two folders
  has two links and is stored once. An item with no links left is deleted.
- ``pending``: a write-ahead journal of items whose chunks are being written or deleted. A run
  killed mid-write leaves them here; the next run removes their chunks and re-ingests them, so
  the store never ends up with duplicates or half-written items.
- ``meta``: what built the store (embedding model, dimension, chunker) and the last sync.
- ``roots``: every folder or file given to ``pdq ingest`` (first and last sync), so ``pdq sync``
  needs no paths; ``forgotten``: sub-paths of a root that ``pdq forget`` removed (skipped by sync).
- ``keyword_log``: the items whose chunks were written, changed or deleted since the keyword
  index was last built in full, in order, so it can be brought up to date from those items
  alone (ingest/store/keyword_delta.py).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    path TEXT PRIMARY KEY, kind TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    read_to INTEGER NOT NULL DEFAULT 0, tail_hash TEXT, problems INTEGER NOT NULL DEFAULT 0,
    synced_at REAL NOT NULL, failed TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY, kind TEXT NOT NULL, content_hash TEXT NOT NULL,
    n_chunks INTEGER NOT NULL, title TEXT, date INTEGER, updated_at REAL NOT NULL,
    embedded INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS links (
    item_id TEXT NOT NULL, source TEXT NOT NULL, locator TEXT NOT NULL, folder TEXT,
    PRIMARY KEY (item_id, source, locator)
);
CREATE INDEX IF NOT EXISTS links_by_source ON links(source);
CREATE TABLE IF NOT EXISTS pending (item_id TEXT PRIMARY KEY, op TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (path TEXT PRIMARY KEY, added REAL NOT NULL, last_sync REAL);
CREATE TABLE IF NOT EXISTS forgotten (path TEXT PRIMARY KEY);
"""


@dataclass(slots=True)
class SourceState:
    path: str
    kind: str
    size: int
    mtime_ns: int
    read_to: int
    tail_hash: str | None
    problems: int
    failed: str = ""  # why the whole file could not be read ("" when it was): read again next sync


class _Links:
    """The links table: which source file (and locator inside it) holds which item, in which
    mail folder. Mixed into :class:`Manifest`."""

    db: sqlite3.Connection

    def add_link(self, item_id: str, source: str, locator: str, folder: str | None) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO links(item_id, source, locator, folder) VALUES(?,?,?,?)",
            (item_id, source, locator, folder),
        )

    def links_of_source(self, source: str) -> set[tuple[str, str]]:
        return {
            (i, loc)
            for i, loc in self.db.execute(
                "SELECT item_id, locator FROM links WHERE source=?", (source,)
            )
        }

    def remove_links(self, source: str, pairs: Iterable[tuple[str, str]] | None = None) -> set[str]:
        """Remove links of ``source`` (all, or the given (item, locator) pairs); return the items
        that have no link left (to be deleted)."""
        if pairs is None:
            affected = {
                r[0] for r in self.db.execute("SELECT item_id FROM links WHERE source=?", (source,))
            }
            self.db.execute("DELETE FROM links WHERE source=?", (source,))
        else:
            pairs = list(pairs)
            affected = {i for i, _ in pairs}
            self.db.executemany(
                "DELETE FROM links WHERE item_id=? AND source=? AND locator=?",
                [(i, source, loc) for i, loc in pairs],
            )
        return {
            i
            for i in affected
            if not self.db.execute("SELECT 1 FROM links WHERE item_id=? LIMIT 1", (i,)).fetchone()
        }

    def folders_of(self, item_id: str) -> list[str]:
        return sorted(
            {
                r[0]
                for r in self.db.execute(
                    "SELECT DISTINCT folder FROM links WHERE item_id=? AND folder IS NOT NULL AND folder != ''",
                    (item_id,),
                )
            }
        )


class _Summary:
    """Counts for ``pdq status``. Mixed into :class:`Manifest`."""

    db: sqlite3.Connection

    def counts_by_kind(self) -> dict[str, int]:
        return dict(
            self.db.execute(
                "SELECT kind, COUNT(*) FROM items GROUP BY kind ORDER BY kind"
            ).fetchall()
        )

    def total_chunks(self) -> int:
        return int(self.db.execute("SELECT COALESCE(SUM(n_chunks), 0) FROM items").fetchone()[0])

    def date_range(self) -> tuple[int | None, int | None]:
        row = self.db.execute(
            "SELECT MIN(date), MAX(date) FROM items WHERE date IS NOT NULL"
        ).fetchone()
        return row[0], row[1]

    def n_sources(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM sources").fetchone()[0])

    def embedding_progress(self) -> tuple[int, int]:
        """(items whose chunks are embedded, all items): the semantic index's coverage."""
        row = self.db.execute("SELECT COALESCE(SUM(embedded), 0), COUNT(*) FROM items").fetchone()
        return int(row[0]), int(row[1])

    def waiting_for_vectors(self) -> bool:
        """Does any stored item still wait for its embedding?"""
        return (
            self.db.execute("SELECT 1 FROM items WHERE embedded=0 LIMIT 1").fetchone() is not None
        )


def _under(column: str) -> str:
    """SQL: ``column`` is the path ``?`` or inside it (bind the path, its length + 1, path/)."""
    return f"({column} = ? OR substr({column}, 1, ?) = ?)"


def _under_args(path: str) -> tuple[str, int, str]:
    return path, len(path.rstrip("/")) + 1, path.rstrip("/") + "/"


@dataclass(slots=True)
class Root:
    """A folder or file given to ``pdq ingest``, with what it holds now."""

    path: str
    added: float
    last_sync: float | None
    items: int
    files: int
    failed: list[tuple[str, str]]  # (file, reason) of files that failed: retried by every sync


class _Roots:
    """The roots table and the forgotten sub-paths. Mixed into :class:`Manifest`."""

    db: sqlite3.Connection

    def record_roots(self, paths: Iterable[str], synced_at: float) -> None:
        self.db.executemany(
            "INSERT INTO roots(path, added, last_sync) VALUES(?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET last_sync=excluded.last_sync",
            [(p, synced_at, synced_at) for p in paths],
        )
        for p in paths:  # ingesting a forgotten path again brings it back
            self.db.execute(f"DELETE FROM forgotten WHERE {_under('path')}", _under_args(p))

    def root_paths(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT path FROM roots ORDER BY path")]

    def roots(self) -> list[Root]:
        out = []
        for path, added, last in self.db.execute("SELECT path, added, last_sync FROM roots"):
            args = _under_args(path)
            items = self.db.execute(
                f"SELECT COUNT(DISTINCT item_id) FROM links WHERE {_under('source')}", args
            ).fetchone()[0]
            files = self.db.execute(
                f"SELECT COUNT(*) FROM sources WHERE {_under('path')}", args
            ).fetchone()[0]
            failed = self.db.execute(
                f"SELECT path, failed FROM sources WHERE failed != '' AND {_under('path')} "
                "ORDER BY path",
                args,
            ).fetchall()
            out.append(Root(path, added, last, int(items), int(files), [tuple(f) for f in failed]))
        return sorted(out, key=lambda r: r.path)

    def forget_root(self, path: str) -> bool:
        """Forget ``path``: a root is dropped; a path inside a root is remembered as forgotten
        (so sync skips it). False when ``path`` is neither a root nor inside one."""
        if self.db.execute("DELETE FROM roots WHERE path = ?", (path,)).rowcount:
            self.db.execute(f"DELETE FROM forgotten WHERE {_under('path')}", _under_args(path))
            return True
        for (root,) in self.db.execute("SELECT path FROM roots").fetchall():
            if path.startswith(root.rstrip("/") + "/"):
                self.db.execute("INSERT OR IGNORE INTO forgotten(path) VALUES(?)", (path,))
                return True
        return False

    def forgotten(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT path FROM forgotten")]

    def failed_sources(self) -> list[tuple[str, str]]:
        return [
            tuple(r)
            for r in self.db.execute(
                "SELECT path, failed FROM sources WHERE failed != '' ORDER BY path"
            )
        ]


_SET_META = (
    "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value"
)


class _KeywordLog:
    """The keyword log: every chunk write appends its items (before and after the write, each
    time before the content generation moves on: :meth:`ingest.store.Store._changed`), so an
    index that knows the log position it was built at can catch up by re-reading only the items
    logged since. Mixed into :class:`Manifest`."""

    db: sqlite3.Connection

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _write(self, sql: str, rows: list[tuple]) -> None:
        """``sql`` for each row, in the caller's transaction or its own."""
        if self.db.in_transaction:
            self.db.executemany(sql, rows)
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(sql, rows)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def log_id(self) -> str:
        """Names this log: an index built against another manifest (a wiped and rebuilt store)
        must not take this one's positions for its own."""
        lid = self._meta("keyword_log_id")
        if not lid:
            import uuid

            lid = uuid.uuid4().hex[:16]
            try:
                self._write(_SET_META, [("keyword_log_id", lid)])
            except sqlite3.OperationalError:  # a read-only store: no log to catch up from
                return ""
        return lid

    def log_changed(self, item_ids: Iterable[str]) -> None:
        rows = [(i,) for i in dict.fromkeys(item_ids)]
        if rows:
            self._write("INSERT INTO keyword_log(item_id) VALUES(?)", rows)

    def log_head(self) -> int:
        """The position of the last logged change (0 for none yet); trimming never lowers it."""
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name='keyword_log'").fetchone()
        return int(row[0]) if row else 0

    def changed_since(self, seq: int) -> tuple[int, set[str]] | None:
        """(the log's head, the items logged after ``seq``), or None when the log no longer
        reaches back to ``seq`` (trimmed after a later full build)."""
        if seq < int(self._meta("keyword_log_trimmed") or 0):
            return None
        own = not self.db.in_transaction
        if own:
            self.db.execute("BEGIN")  # a read snapshot: head and rows agree
        try:
            head = self.log_head()
            rows = self.db.execute(
                "SELECT DISTINCT item_id FROM keyword_log WHERE seq > ? AND seq <= ?", (seq, head)
            ).fetchall()
        finally:
            if own:
                self.db.execute("COMMIT")
        return head, {r[0] for r in rows}

    def trim_log(self, upto: int) -> None:
        """Forget the changes a full build at position ``upto`` already holds."""
        if upto <= int(self._meta("keyword_log_trimmed") or 0):
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("DELETE FROM keyword_log WHERE seq <= ?", (upto,))
            self.db.execute(_SET_META, ("keyword_log_trimmed", str(upto)))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")


class Manifest(_Links, _Summary, _Roots, _KeywordLog):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(
            str(path), timeout=30, isolation_level=None, check_same_thread=False
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Add what older manifests lack (their items are all embedded)."""
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(items)")}
        try:
            if "embedded" not in cols:
                self.db.execute("ALTER TABLE items ADD COLUMN embedded INTEGER NOT NULL DEFAULT 1")
            self.db.execute("CREATE INDEX IF NOT EXISTS items_to_embed ON items(embedded, date)")
            scols = {r[1] for r in self.db.execute("PRAGMA table_info(sources)")}
            if "failed" not in scols:
                self.db.execute("ALTER TABLE sources ADD COLUMN failed TEXT NOT NULL DEFAULT ''")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS keyword_log "
                "(seq INTEGER PRIMARY KEY AUTOINCREMENT, item_id TEXT NOT NULL)"
            )
        except sqlite3.OperationalError:  # a read-only store: read as it is
            pass

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- meta --------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, **values: object) -> None:
        with self.transaction() as db:
            db.executemany(
                _SET_META,
                [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in values.items()],
            )

    # --- sources -------------------------------------------------------------------------
    def sources_under(self, roots: Iterable[Path]) -> dict[str, SourceState]:
        out: dict[str, SourceState] = {}
        for root in roots:
            r = str(root)
            rows = self.db.execute(
                "SELECT path, kind, size, mtime_ns, read_to, tail_hash, problems, failed FROM sources "
                "WHERE path = ? OR substr(path, 1, ?) = ?",
                (r, len(r) + 1, r.rstrip("/") + "/"),
            )
            for row in rows:
                out[row[0]] = SourceState(*row)
        return out

    def put_source(self, st: SourceState) -> None:
        self.db.execute(
            "INSERT INTO sources(path, kind, size, mtime_ns, read_to, tail_hash, problems, synced_at, "
            "failed) VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET kind=excluded.kind, "
            "size=excluded.size, mtime_ns=excluded.mtime_ns, read_to=excluded.read_to, "
            "tail_hash=excluded.tail_hash, problems=excluded.problems, synced_at=excluded.synced_at, "
            "failed=excluded.failed",
            (
                st.path,
                st.kind,
                st.size,
                st.mtime_ns,
                st.read_to,
                st.tail_hash,
                st.problems,
                time.time(),
                st.failed,
            ),
        )

    def delete_source(self, path: str) -> None:
        self.db.execute("DELETE FROM sources WHERE path=?", (path,))

    def invalidate_sources_of(self, item_ids: list[str]) -> None:
        """Force a re-read of the sources these items came from (after a crash repair)."""
        sql = "SELECT DISTINCT source FROM links WHERE item_id IN ({marks})"
        sources = [r[0] for r in self._rows_for(sql, item_ids)]
        self.db.executemany(
            "UPDATE sources SET mtime_ns=-1, read_to=0 WHERE path=?", [(s,) for s in sources]
        )

    # --- items and links -------------------------------------------------------------------
    def _rows_for(self, sql: str, ids: list[str]) -> Iterator[tuple]:
        """Run ``sql`` (with one ``{marks}`` placeholder list) over ``ids`` in SQLite-sized parts."""
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            yield from self.db.execute(sql.format(marks=",".join("?" * len(part))), part)

    def item_hashes(self, item_ids: list[str]) -> dict[str, tuple[str, int]]:
        """item id -> (content hash, number of chunks) for the stored ones among ``item_ids``."""
        sql = "SELECT item_id, content_hash, n_chunks FROM items WHERE item_id IN ({marks})"
        return {iid: (h, n) for iid, h, n in self._rows_for(sql, item_ids)}

    def item_info(self, item_ids: list[str]) -> dict[str, tuple[str, int]]:
        """item id -> (kind, number of chunks) for the stored ones among ``item_ids``."""
        sql = "SELECT item_id, kind, n_chunks FROM items WHERE item_id IN ({marks})"
        return {iid: (kind, n) for iid, kind, n in self._rows_for(sql, item_ids)}

    def chunk_ids(self, item_ids: Iterable[str]) -> list[str]:
        ids = list(item_ids)
        found = self.item_hashes(ids)
        return [f"{iid}#{k}" for iid, (_, n) in found.items() for k in range(n)]

    def has_link(self, item_id: str, source: str, locator: str) -> bool:
        return (
            self.db.execute(
                "SELECT 1 FROM links WHERE item_id=? AND source=? AND locator=?",
                (item_id, source, locator),
            ).fetchone()
            is not None
        )

    def put_item(
        self,
        item_id: str,
        kind: str,
        content_hash: str,
        n_chunks: int,
        title: str,
        date: int | None,
        embedded: bool = True,
    ) -> None:
        self.db.execute(
            "INSERT INTO items(item_id, kind, content_hash, n_chunks, title, date, updated_at, embedded) "
            "VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(item_id) DO UPDATE SET kind=excluded.kind, "
            "content_hash=excluded.content_hash, n_chunks=excluded.n_chunks, title=excluded.title, "
            "date=excluded.date, updated_at=excluded.updated_at, embedded=excluded.embedded",
            (item_id, kind, content_hash, n_chunks, title, date, time.time(), int(embedded)),
        )

    def to_embed(self, max_chunks: int) -> list[tuple[str, int]]:
        """The next items waiting for their embedding, newest first (undated ones count as
        ingested now), as (item id, number of chunks), about ``max_chunks`` chunks in all."""
        rows = self.db.execute(
            "SELECT item_id, n_chunks FROM items WHERE embedded=0 "
            "ORDER BY COALESCE(date, CAST(updated_at AS INTEGER)) DESC, item_id LIMIT ?",
            (max_chunks,),
        )
        out: list[tuple[str, int]] = []
        total = 0
        for iid, n in rows:
            if out and total + n > max_chunks:
                break
            out.append((iid, n))
            total += n
        return out

    def mark_embedded(self, item_ids: Iterable[str]) -> None:
        self.db.executemany("UPDATE items SET embedded=1 WHERE item_id=?", [(i,) for i in item_ids])

    def delete_item(self, item_id: str) -> None:
        self.db.execute("DELETE FROM items WHERE item_id=?", (item_id,))
        self.db.execute("DELETE FROM links WHERE item_id=?", (item_id,))

    def drop_item_rows(self, item_ids: Iterable[str]) -> None:
        """Forget these items' rows but keep their links (repair: their sources are re-read)."""
        self.db.executemany("DELETE FROM items WHERE item_id=?", [(i,) for i in item_ids])

    def kinds_of_source(self, source: str) -> dict[str, int]:
        """How many items of each kind one source holds."""
        return dict(
            self.db.execute(
                "SELECT i.kind, COUNT(*) FROM links l JOIN items i ON i.item_id = l.item_id WHERE l.source=? GROUP BY i.kind",
                (source,),
            ).fetchall()
        )

    def mark_pending(self, item_ids: Iterable[str], op: str) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO pending(item_id, op) VALUES(?, ?)", [(i, op) for i in item_ids]
        )

    def clear_pending(self, item_ids: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM pending WHERE item_id=?", [(i,) for i in item_ids])

    def pending(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT item_id FROM pending")]

    # --- figures -------------------------------------------------------------------------------
