"""Reader-study speed on a study-sized project: a read costs what a label change costs.

    python benchmarks/reads_bench.py [--images 4300] [--patients 1200] [--n 300]

Creates a project of fake image rows (no pixels), then times, in the same run,
``LabelBook.set`` (what a labelling key press writes) and ``record_read`` (what a reading key press
writes), each committed on its own, and the calls a reading view makes per image. Prints
``RESULT reads_record_ms``, ``RESULT labels_set_ms``, ``RESULT reads_vs_labels_ratio``,
``RESULT reads_items_ms`` (``reading_items`` of the whole session), ``RESULT reads_agreement_s``
(``reader_agreement`` of two sessions, image level, 1,000 resamples) and ``RESULT
reads_queue_ms`` (``disagreement_queue``).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=4300)
    ap.add_argument("--patients", type=int, default=1200)
    ap.add_argument("--n", type=int, default=300, help="timed writes of each kind")
    args = ap.parse_args()

    import numpy as np

    from engine.evaluate import reader_agreement
    from engine.reads import create_session, disagreement_queue, reading_items, record_read
    from engine.store import ImageRecord, Project

    with tempfile.TemporaryDirectory() as tmp:
        p = Project.create(Path(tmp) / "Bench")
        with p.transaction() as conn:
            for k in range(args.images):
                sha = hashlib.sha256(str(k).encode()).hexdigest()
                p.images.insert(conn, ImageRecord(
                    path=f"/d/{k}.dcm", source_folder="/d", sha256=sha, bytes=1, format="dicom", width=1,
                    height=1, patient_key=f"P{k % args.patients:05d}"))
        ids = p.images.ids()
        a, b = create_session(p, "a", "ann"), create_session(p, "b", "bob")
        rng = np.random.default_rng(0)
        label_ms, read_ms = [], []
        for n in range(args.n):  # interleaved, so both see the same machine load
            t0 = time.perf_counter()
            p.labels.set(ids[n], ("AFF", "NFF")[n % 2], "ann")
            label_ms.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            record_read(p, a, ids[n], ("AFF", "NFF")[n % 2], confidence=3, seconds=2.0)
            read_ms.append((time.perf_counter() - t0) * 1e3)
        with p.transaction() as conn:  # the rest of both sessions, in bulk
            conn.executemany("INSERT INTO reads(session_id, image_id, reader, label, at) "
                             "VALUES (?, ?, ?, ?, 'x')",
                             [(s.id, i, s.reader, str(rng.choice(["AFF", "NFF"], p=[0.2, 0.8])))
                              for s in (a, b) for i in ids[args.n if s is a else 0:]])
        t0 = time.perf_counter()
        items = reading_items(p, a)
        items_ms = (time.perf_counter() - t0) * 1e3
        t0 = time.perf_counter()
        reader_agreement(p, ["a", "b"], n_boot=1000)
        agree_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        queue = disagreement_queue(p, ["a", "b"])
        queue_ms = (time.perf_counter() - t0) * 1e3
        p.close()
    rec, lab = statistics.median(read_ms), statistics.median(label_ms)
    print(f"{len(items)} items, {len(queue)} in the queue")
    print(f"RESULT reads_record_ms {rec:.3f}")
    print(f"RESULT labels_set_ms {lab:.3f}")
    print(f"RESULT reads_vs_labels_ratio {rec / lab:.2f}")
    print(f"RESULT reads_items_ms {items_ms:.1f}")
    print(f"RESULT reads_agreement_s {agree_s:.2f}")
    print(f"RESULT reads_queue_ms {queue_ms:.1f}")


if __name__ == "__main__":
    main()
