"""Run the real ``pdq`` CLI, paused at a named point of the ingest, for crash and signal tests.

    python -m tests.ingest_driver POINT N FOLDER -- ingest MAILBOX ...

POINT is where the run stops for the N-th time (counted from 1 in this process):

- ``embed``: inside the N-th embedding round of phase 2, before its vectors are written (every
  item is stored and keyword-searchable, the rounds before it are embedded). Nothing holds a
  database lock there.
- ``upsert``: in the middle of the N-th phase-1 write to Chroma (chunks staged without their
  vectors): half of the round's chunks are stored, the manifest journal says the round is
  pending, the other half is not written yet.
- ``keyword_index``: after every item is written, the BM25 index built but not yet saved.

When the run reaches the point it creates ``FOLDER/paused`` and waits until ``FOLDER/go``
exists (then carries on) or a signal ends it. The test therefore knows the run is still going
and exactly what it has done, on any machine, however fast: no sleeps, no races. Everything
else is the product as a user runs it (the real model, the real store, ``rag.cli.main``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def _pause(folder: Path) -> None:
    (folder / "paused").touch()
    while not (folder / "go").exists():
        time.sleep(0.05)


def install(point: str, nth: int, folder: Path) -> None:
    import ingest.pipeline
    import ingest.store.keyword_index
    from ingest.embedding import SentenceTransformerEmbedder
    from ingest.onnx_embedding import OnnxEmbedder
    from ingest.store import Store

    calls = {"n": 0}

    def reached() -> bool:
        calls["n"] += 1
        return calls["n"] == nth

    if point == "embed":
        for engine in (SentenceTransformerEmbedder, OnnxEmbedder):

            def embed(self, texts, _real=engine.embed):  # type: ignore[no-untyped-def]
                if reached():
                    _pause(folder)
                return _real(self, texts)

            engine.embed = embed  # type: ignore[method-assign]
    elif point == "upsert":
        real_stage = Store.stage

        def stage(self, ids, documents, metadatas):  # type: ignore[no-untyped-def]
            if not reached() or len(ids) < 2:
                return real_stage(self, ids, documents, metadatas)
            h = len(ids) // 2
            real_stage(self, ids[:h], documents[:h], metadatas[:h])
            _pause(folder)
            real_stage(self, ids[h:], documents[h:], metadatas[h:])

        Store.stage = stage  # type: ignore[method-assign]
    elif point == "keyword_index":
        real_save = ingest.store.keyword_index.save

        def save(*args, **kwargs):  # type: ignore[no-untyped-def]
            if reached():
                _pause(folder)
            return real_save(*args, **kwargs)

        ingest.store.keyword_index.save = save
    else:
        raise SystemExit(f"unknown pause point {point!r}")


def main() -> None:
    point, nth, folder, sep, *args = sys.argv[1:]
    assert sep == "--", "usage: python -m tests.ingest_driver POINT N FOLDER -- pdq args..."
    import faulthandler
    import signal

    faulthandler.register(
        signal.SIGUSR1, all_threads=True
    )  # a test that times out asks for the stacks
    install(point, int(nth), Path(folder))
    from rag.cli import main as pdq_main

    sys.argv = ["pdq", *args]
    pdq_main()


if __name__ == "__main__":
    main()
