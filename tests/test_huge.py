"""Huge inputs: a 200+ MB mbox streams with flat memory (peak RSS measured in a subprocess), and a
50 MB attachment is skipped under the documented ``max_attachment_mb`` limit and reported while its
message is stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest


def write_big_mbox(path: Path, messages: int, attachment_bytes: int) -> None:
    blob = os.urandom(attachment_bytes)
    with path.open("wb") as f:
        for i in range(messages):
            m = EmailMessage()
            m["From"], m["To"] = "Camera <camera@example.org>", "sam@carter.example"
            m["Subject"], m["Message-ID"] = f"Photo {i}", f"<photo-{i}@example.org>"
            m["Date"] = "Mon, 02 Mar 2026 10:00:00 +0000"
            m.set_content(f"Photo number {i} from the garden, taken on the new camera.")
            m.add_attachment(blob, maintype="image", subtype="jpeg", filename=f"IMG_{i}.jpg")
            f.write(b"From camera@example.org Mon Mar  2 10:00:00 2026\n" + bytes(m) + b"\n")


RSS_RUN = (
    "import resource, sys\n"
    "sys.argv = ['pdq', 'ingest', sys.argv[1], '--dry-run', '--json']\n"
    "from rag.cli import main\n"
    "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
    "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
)


def dry_run_peak_mb(mbox: Path, tmp_path: Path) -> tuple[float, dict]:
    env = dict(os.environ, PDQ_STORE=str(tmp_path / "store"), HF_HUB_OFFLINE="1")
    out = subprocess.run(
        [sys.executable, "-c", RSS_RUN, str(mbox)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    peak = [ln for ln in out.stderr.splitlines() if ln.startswith("PEAK_RSS_KB")]
    assert peak, out.stderr[-2000:]
    return int(peak[0].split()[1]) / 1024, json.loads(out.stdout)


@pytest.mark.slow
def test_a_200_mb_mbox_streams_with_flat_memory(tmp_path):
    small = tmp_path / "small.mbox"
    write_big_mbox(small, 3, 1_100_000)
    big = tmp_path / "photos.mbox"
    write_big_mbox(big, 150, 1_100_000)  # ~225 MB on disk (base64)
    size_mb = big.stat().st_size / 1e6
    assert size_mb > 200
    base_mb, _ = dry_run_peak_mb(small, tmp_path)
    peak_mb, report = dry_run_peak_mb(big, tmp_path)
    assert report["items"]["email"]["found"] == 150
    # the "photos" are random bytes: OCR finds them unreadable images, reported and skipped
    assert report["failure_reasons"] == {"corrupt": 150}
    assert all(" > " in f["locator"] for f in report["failed"])  # the attachments, not the mail
    print(
        f"\n{size_mb:.0f} MB mbox, dry run: peak RSS {peak_mb:.0f} MB (3-message mbox: {base_mb:.0f} MB)"
    )
    # flat: the 225 MB mailbox costs about what a 3 MB one does (one message at a time in memory)
    assert peak_mb - base_mb < 100, f"peak RSS {peak_mb:.0f} MB vs {base_mb:.0f} MB for a tiny mbox"


def test_a_50_mb_attachment_is_skipped_and_reported(tmp_path, settings, hash_embedder):
    from ingest.pipeline import ingest_paths

    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = (
        "Anna <anna@example.org>",
        "sam@carter.example",
        "The full scan",
    )
    m["Message-ID"], m["Date"] = "<scan@example.org>", "Mon, 02 Mar 2026 10:00:00 +0000"
    m.set_content("Here is the whole archive scan, sorry it is big.")
    m.add_attachment(
        b"%PDF-1.4\n" + b"0" * 50_000_000,
        maintype="application",
        subtype="pdf",
        filename="scan.pdf",
    )
    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "scan.eml").write_bytes(bytes(m))
    r = ingest_paths([mail], settings, embedder=hash_embedder)
    assert [(f.reason, f.locator.rsplit(" > ", 1)[-1]) for f in r.failures] == [
        ("too large", "scan.pdf")
    ]
    assert "over the limit" in r.failures[0].detail
    assert r.by_kind["email"]["new"] == 1  # the message itself is stored
