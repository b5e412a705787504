"""Nothing lost, nothing duplicated: ``pdq ingest`` killed with SIGKILL at several points of a real
run (imports and parsing, embedding, writing) and re-run each time leaves a consistent store;
two ingests at once are refused with a clear message while questions keep working; a read-only
or full disk is a clear error that leaves the existing store intact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import ROOT


def pdq() -> str:
    return str(Path(sys.executable).with_name("pdq"))


def make_mbox(path: Path, n: int) -> set[str]:
    ids = set()
    with path.open("wb") as f:
        for i in range(n):
            m = EmailMessage()
            m["From"] = f"Sender {i % 7} <s{i % 7}@example.org>"
            m["To"] = "sam@carter.example"
            m["Subject"] = f"Project note {i}"
            m["Date"] = f"Mon, {1 + i % 28:02d} Mar 2026 10:{i % 60:02d}:00 +0000"
            m["Message-ID"] = f"<crash-{i}@example.org>"
            ids.add(f"<crash-{i}@example.org>")
            m.set_content(
                f"Note {i}. "
                + " ".join(
                    f"The plan for stage {j} of item {i} is on track." for j in range(12 + i % 40)
                )
            )
            f.write(b"From s@example.org Mon Mar  2 10:00:00 2026\n" + bytes(m) + b"\n")
    return ids


def consistency(store: Path) -> dict:
    """Manifest and Chroma agree: every manifest chunk is in Chroma once, nothing else is."""
    from ingest.store import Store

    s = Store.open(store, create=False)
    try:
        got = s.collection.get(include=["metadatas"])
        staging = s._staged_collection(writing=True)
        sgot = (
            staging.get(include=["metadatas"])
            if staging is not None
            else {"ids": [], "metadatas": []}
        )
        staged = set(sgot["ids"])
        # a chunk is in the main collection (embedded) or staged (waiting); a kill between
        # the two writes of phase 2 may leave it in both for a moment, never twice in one
        main = set(got["ids"])
        chroma_ids = got["ids"] + [cid for cid in sgot["ids"] if cid not in main]
        metas = got["metadatas"] + [
            m for cid, m in zip(sgot["ids"], sgot["metadatas"], strict=True) if cid not in main
        ]
        items = dict(s.manifest.db.execute("SELECT item_id, n_chunks FROM items").fetchall())
        waiting = {
            r[0] for r in s.manifest.db.execute("SELECT item_id FROM items WHERE embedded=0")
        }
        expected = {f"{iid}#{k}" for iid, n in items.items() for k in range(n)}
        pending = s.manifest.pending()
        mids = [
            m.get("message_id") for m in metas if m.get("kind") == "email" and m.get("chunk") == 0
        ]
        return {
            "chroma": chroma_ids,
            "expected": expected,
            "pending": pending,
            "message_ids": mids,
            "items": items,
            "waiting": waiting,  # items whose chunks wait for their vectors
            "staged": staged,  # chunks stored without their vector yet
        }
    finally:
        s.close()


def wait_for_lock(lock: Path, proc: subprocess.Popen, timeout: float = 120) -> bool:
    """True once another process holds the store's ingest lock."""
    import fcntl

    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if lock.exists():
            fd = os.open(lock, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
            except BlockingIOError:
                return True
            finally:
                os.close(fd)
        time.sleep(0.2)
    return False


def assert_store_answers(env: dict[str, str]) -> None:
    """`pdq ask` on the sample store still finds the dentist's rescheduled day."""
    asked = subprocess.run(
        [
            pdq(),
            "ask",
            "When is my dentist appointment?",
            "--backend",
            "extractive",
            "--now",
            "2026-03-11T09:00:00",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert asked.returncode == 0 and "19 March" in asked.stdout, asked.stderr[-2000:]


def env_for(store: Path) -> dict[str, str]:
    return dict(os.environ, PDQ_STORE=str(store), HF_HUB_OFFLINE="1")


def start_paused(
    point: str, nth: int, mbox: Path, env: dict[str, str], folder: Path
) -> subprocess.Popen:
    """``pdq ingest MBOX`` (the real CLI, through tests/ingest_driver.py), to stop at ``point``."""
    folder.mkdir(parents=True, exist_ok=True)
    for marker in ("paused", "go"):
        (folder / marker).unlink(missing_ok=True)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.ingest_driver",
            point,
            str(nth),
            str(folder),
            "--",
            "ingest",
            str(mbox),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_paused(proc: subprocess.Popen, folder: Path, timeout: float = 600) -> None:
    """Until the run stands at its pause point; it fails if the run ended before reaching it."""
    deadline = time.time() + timeout
    while not (folder / "paused").exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(
                f"the ingest ended (rc {proc.returncode}) before its pause point: {err[-2000:]}"
            )
        assert time.time() < deadline, "the ingest never reached its pause point"
        time.sleep(0.1)
    assert proc.poll() is None


@pytest.mark.slow
def test_kill_9_at_fixed_points_then_rerun_leaves_a_consistent_store(tmp_path):
    """kill -9 in phase 2 while a round is being embedded (every item stored, earlier rounds
    embedded), in the middle of a phase-1 write to Chroma (half the round stored, the journal
    pending) and while the BM25 index is rebuilt; a re-run after each repairs and finishes, and
    in the end every chunk has its real vector, once. The run is paused at each point (no
    timing), so every kill lands where it says on any machine."""
    mbox = tmp_path / "mail.mbox"
    ids = make_mbox(mbox, 260)
    store = tmp_path / "store"
    env = env_for(store)
    pauses = tmp_path / "pauses"
    # in the order a run meets them: a kill in phase 1 leaves sources to read again, a kill in
    # phase 2 leaves every source read (the next run only embeds)
    for point, nth in (("upsert", 1), ("keyword_index", 1), ("embed", 2)):
        p = start_paused(point, nth, mbox, env, pauses)
        try:
            wait_paused(p, pauses)
            state = consistency(store)
            if point == "upsert":  # a half-written round: some chunks in Chroma, journal pending
                assert state["pending"] and set(state["chroma"]) - state["expected"]
            if point == "embed":  # phase 2: all stored, one round embedded, the rest waiting
                assert len(state["items"]) == 260 and not state["pending"]
                assert 0 < len(state["waiting"]) < 260
        finally:
            p.send_signal(signal.SIGKILL)
            p.communicate()
        assert p.returncode == -signal.SIGKILL
        state = consistency(store)  # what a kill leaves may be half done, never duplicated
        assert len(state["chroma"]) == len(set(state["chroma"]))
    done = subprocess.run(
        [pdq(), "ingest", str(mbox), "--json"], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (
        json.loads(done.stdout)["repaired_after_crash"] == 0
    )  # the last kill came after every write
    state = consistency(store)
    assert state["pending"] == []
    assert len(state["chroma"]) == len(set(state["chroma"]))
    assert set(state["chroma"]) == state["expected"]  # manifest and Chroma agree exactly
    assert sorted(state["message_ids"]) == sorted(ids)  # every message exactly once
    assert state["waiting"] == set() and state["staged"] == set()  # all embedded
    _assert_real_vectors(store)
    again = subprocess.run(
        [pdq(), "ingest", str(mbox), "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert json.loads(again.stdout)["chunks_embedded"] == 0  # and nothing is left to redo


_REAL_VECTORS = """
import sys
import numpy as np
from ingest.core.settings import load_settings
from ingest.embedding import make_embedder
from ingest.store import Store
s = Store.open(sys.argv[1], create=False)
got = s.collection.get(limit=40, include=["documents", "embeddings"])
fresh = np.asarray(make_embedder(load_settings(store=sys.argv[1])).embed(got["documents"]))
print(len(got["ids"]), float(np.abs(fresh - np.asarray(got["embeddings"])).max()))
"""


def _assert_real_vectors(store: Path) -> None:
    """The stored vectors are the model's embeddings of the stored texts (no placeholder left).
    Read in a fresh process: chromadb caches a store's index per process, and this test's process
    opened this one before the CLI wrote its vectors."""
    done = subprocess.run(
        [sys.executable, "-c", _REAL_VECTORS, str(store)],
        env=env_for(store),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    n, diff = done.stdout.split()[-2:]
    assert int(n) > 0 and float(diff) < 1e-4


@pytest.mark.slow
def test_second_ingest_is_refused_while_questions_keep_working(tmp_path, sample_store):
    """The first ingest is held inside its second embedding round (all 400 messages stored and
    keyword-searchable, one round embedded) while a second ingest is refused and questions are
    answered, one of them from the new mail by keyword; then Ctrl-C ends it with one line and
    exit 130, what it wrote is consistent, and a re-run finishes the embedding."""
    import shutil

    store = tmp_path / "store"
    shutil.copytree(sample_store, store)
    before = consistency(store)
    mbox = tmp_path / "more.mbox"
    make_mbox(mbox, 400)
    env = env_for(store)
    pauses = tmp_path / "pauses"
    first = start_paused("embed", 2, mbox, env, pauses)
    try:
        wait_paused(first, pauses)
        assert wait_for_lock(store / "ingest.lock", first), (
            "the first ingest does not hold the lock"
        )
        second = subprocess.run(
            [pdq(), "ingest", str(mbox)], env=env, capture_output=True, text=True, timeout=300
        )
        assert second.returncode == 1, second.stdout
        assert second.stderr.strip().startswith("pdq: error: another pdq ingest is running on")
        assert "Traceback" not in second.stderr
        assert_store_answers(env)
        found = subprocess.run(
            [pdq(), "search", "Project note 399", "-k", "3", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert found.returncode == 0, found.stderr[-2000:]
        top = [s["title"] for s in json.loads(found.stdout)["sources"]]
        assert "Project note 399" in top, top  # not embedded yet, or embedded: found either way
        status = subprocess.run(
            [pdq(), "status", "--json"], env=env, capture_output=True, text=True, timeout=300
        )
        semantic = json.loads(status.stdout)["semantic_index"]
        assert 0 < semantic["embedded_items"] < semantic["items"]
        assert first.poll() is None, "the first ingest should still be running during the question"
    finally:
        # Ctrl-C ends the first one early: one line, and what it wrote is consistent
        first.send_signal(signal.SIGINT)
        out, err = _exit_or_stacks(first)
    assert first.returncode == 130, err[-2000:]
    assert err.strip().startswith("pdq: interrupted;") and "Traceback" not in err, err[-2000:]
    assert len(err.strip().splitlines()) == 1, err[-2000:]
    state = consistency(store)
    assert state["pending"] == []
    assert len(state["chroma"]) == len(set(state["chroma"]))
    assert set(state["chroma"]) == state["expected"]
    new = [m for m in state["message_ids"] if m.startswith("<crash-")]
    assert len(new) == 400  # phase 1 stored everything before the embedding began
    assert 0 < len(state["waiting"]) < 400  # the first round's vectors were kept
    assert len(state["items"]) > len(before["items"])
    assert_store_answers(env)
    rerun = subprocess.run(
        [pdq(), "ingest", str(mbox), "--json"], env=env, capture_output=True, text=True, timeout=900
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert json.loads(rerun.stdout)["chunks_embedded"] > 0  # phase 2 resumed where it stopped
    assert consistency(store)["waiting"] == set()


def _exit_or_stacks(proc: subprocess.Popen, timeout: float = 300) -> tuple[str, str]:
    """The run's output once it exits; if it does not, its threads' stacks in the failure."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)  # tests/ingest_driver.py dumps every thread's stack
        time.sleep(2)
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(
            f"the interrupted ingest did not exit; its stacks:\n{err[-6000:]}"
        ) from None


def _without_root_file_powers() -> None:
    """preexec_fn: drop CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER from the bounding set,
    so the child (and what it execs) obeys file permissions even as root."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            os._exit(97)


@pytest.mark.slow
def test_read_only_store_is_a_clear_error_and_stays_intact(tmp_path):
    """``pdq ingest`` into a store the user cannot write: one line, nothing changed. Root ignores
    file permissions, so as root the command runs without the capabilities that let it."""
    import hashlib

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# A\n\nFirst note about the allotment.\n")
    store = tmp_path / "store"
    env = env_for(store)
    first = subprocess.run(
        [pdq(), "ingest", str(notes)], env=env, capture_output=True, text=True, timeout=300
    )
    assert first.returncode == 0, first.stderr[-2000:]
    (notes / "b.md").write_text("# B\n\nSecond note.\n")

    def digest() -> str:
        h = hashlib.sha256()
        for f in sorted(store.rglob("*")):
            if f.is_file():
                h.update(f.name.encode() + f.read_bytes())
        return h.hexdigest()

    before = digest()
    os.chmod(store, 0o500)
    try:
        ro = subprocess.run(
            [pdq(), "ingest", str(notes)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            preexec_fn=_without_root_file_powers if os.geteuid() == 0 else None,
        )
    finally:
        os.chmod(store, 0o700)
    if ro.returncode == 97:
        pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE here")
    assert ro.returncode == 1, ro.stdout
    assert ro.stderr.strip().startswith("pdq: error:") and "not writable" in ro.stderr
    assert "Traceback" not in ro.stderr and len(ro.stderr.strip().splitlines()) == 1
    assert digest() == before


@pytest.mark.slow
def test_full_disk_is_a_clear_error_and_the_store_survives(tmp_path, sample_store):
    """A file-size limit (RLIMIT_FSIZE) makes every write past it fail with EFBIG, as a full disk
    makes them fail with ENOSPC: the run must stop with one line, and the store must still answer."""
    import shutil

    store = tmp_path / "store"
    shutil.copytree(sample_store, store)
    mbox = tmp_path / "big.mbox"
    make_mbox(mbox, 120)
    env = env_for(store)
    code = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1]))); "
        "sys.argv = ['pdq', 'ingest', sys.argv[2]]; from rag.cli import main; main()"
    )
    size = max(f.stat().st_size for f in store.rglob("*") if f.is_file())
    full = subprocess.run(
        [sys.executable, "-c", code, str(size + 4096), str(mbox)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert full.returncode != 0
    assert "Traceback" not in full.stderr, full.stderr[-3000:]
    assert full.stderr.strip().startswith("pdq: error:"), full.stderr[-2000:]
    assert (
        "disk" in full.stderr.lower()
        or "space" in full.stderr.lower()
        or "write" in full.stderr.lower()
    )
    assert_store_answers(env)
    again = subprocess.run(
        [pdq(), "ingest", str(mbox), "--json"], env=env, capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stderr[-2000:]
    state = consistency(store)
    assert set(state["chroma"]) == state["expected"] and not state["pending"]


@pytest.mark.slow
def test_an_unreadable_mbox_is_one_failed_file_and_the_run_goes_on(tmp_path):
    """Permission denied on one mailbox is that file's failure ("unreadable"), not a store
    error: the other mailbox is stored, and once readable the file is read on the next run."""
    mail = tmp_path / "mail"
    mail.mkdir()
    make_mbox(mail / "good.mbox", 5)
    locked = mail / "locked.mbox"
    make_mbox(locked, 3)
    locked.write_bytes(locked.read_bytes().replace(b"crash-", b"locked-"))  # other messages
    locked.chmod(0)
    store = tmp_path / "store"
    env = env_for(store)
    run = subprocess.run(
        [pdq(), "ingest", str(mail), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=_without_root_file_powers if os.geteuid() == 0 else None,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout)
    assert [(f["locator"], f["reason"]) for f in report["failed"]] == [(str(locked), "unreadable")]
    assert report["totals"]["new"] == 5
    locked.chmod(0o600)
    again = subprocess.run(
        [pdq(), "ingest", str(mail), "--json"], env=env, capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["totals"]["new"] == 3  # read now: it was not marked synced
