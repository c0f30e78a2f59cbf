"""Import throughput against a bare ``pydicom.dcmread(f).pixel_array`` loop, per core.

Writes N uncompressed 12-bit 2000 x 2500 DICOM files to a temporary folder,
then times, on the same files (all in the page cache):

* bare:   ``pydicom.dcmread(f).pixel_array`` in one process;
* import: ``engine.io.import_sources`` into a fresh project (read, xxh3-128,
  decode, window, 1024-px cache copy, thumbnail, SQLite rows) on all cores;
* hash: xxh3-128 (the content identity) of the files alone, and sha256 for comparison.

Then the same for a set of JPEG 2000 (lossless) files, where decoding dominates.

Prints files/s for each and ``RESULT import_per_core_ratio <import/s / cores / bare/s>``
(performance.md target: >= 0.4) and ``RESULT import_j2k_per_core_ratio ...`` (target
>= 0.8). With more than one worker it also runs the bare loop split over as many
processes and prints how far it scales, with ``RESULT import_vs_parallel_bare_ratio``
(import against that parallel bare loop): on a VM whose cores do not scale, this
separates the machine from the import.
Usage: ``python benchmarks/import_bench.py [N] [--workers W] [--j2k N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.io import import_sources  # noqa: E402
from engine.io._parallel import default_workers  # noqa: E402
from engine.store import Project, content_hash  # noqa: E402

ROWS, COLS = 2500, 2000


def make_files(folder: Path, n: int, j2k: bool = False) -> list[Path]:
    """``n`` distinct 12-bit radiograph-like DICOM files (smooth picture plus noise)."""
    y, x = np.mgrid[0:ROWS, 0:COLS].astype(np.float32)
    base = 600 + 300 * y / ROWS + 2400 * np.exp(-(((x - COLS / 2) / (COLS / 8)) ** 2))
    paths = []
    for i in range(n):
        rng = np.random.default_rng(i)
        pixels = np.clip(base + rng.normal(0, 40, base.shape), 0, 4095).astype(np.uint16)
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        ds.PatientID, ds.Modality, ds.ViewPosition = f"P{i // 2:04d}", "DX", "AP"
        ds.Rows, ds.Columns = ROWS, COLS
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.WindowCenter, ds.WindowWidth = 2048, 4096
        ds.PixelSpacing = [0.15, 0.15]
        if j2k:
            import imagecodecs

            ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
            ds.PixelData = encapsulate([imagecodecs.jpeg2k_encode(
                pixels, codecformat="J2K", reversible=True, bitspersample=12)])
            ds["PixelData"].VR = "OB"
        else:
            ds.PixelData = pixels.tobytes()
        path = folder / f"P{i // 2:04d}" / f"img{i:04d}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def time_bare(paths: list[Path]) -> float:
    t0 = time.perf_counter()
    for path in paths:
        pydicom.dcmread(path).pixel_array  # noqa: B018
    return time.perf_counter() - t0


def _bare_chunk(paths: list[Path]) -> None:
    for path in paths:
        pydicom.dcmread(path).pixel_array  # noqa: B018


def time_bare_parallel(paths: list[Path], workers: int) -> float:
    """The bare loop split over ``workers`` processes: what this machine's cores give it."""
    import multiprocessing

    chunks = [paths[k::workers] for k in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_bare_chunk, chunks[:1])  # start the processes before the clock
        t0 = time.perf_counter()
        pool.map(_bare_chunk, chunks, chunksize=1)
        return time.perf_counter() - t0


def time_sha(paths: list[Path], fn=lambda b: hashlib.sha256(b).hexdigest()) -> float:
    t0 = time.perf_counter()
    for path in paths:
        fn(path.read_bytes())
    return time.perf_counter() - t0


def time_stages(paths: list[Path], work: Path) -> dict[str, float]:
    """Seconds per file of each step a worker takes, in this process (CPU time)."""
    from engine.io._reader import decode_bytes
    from engine.io._resample import cache_pixels, thumbnail
    from engine.store import ImageCache

    cache = ImageCache(work / "stage-cache")
    spent: dict[str, float] = {}
    for path in paths:
        t = time.process_time()
        steps = []
        data = path.read_bytes()
        steps.append(("read", time.process_time()))
        sha = content_hash(data)
        steps.append(("xxh3-128", time.process_time()))
        image = decode_bytes(data, "dicom")
        steps.append(("parse+check", time.process_time()))
        full = cache_pixels(image)
        steps.append(("window+resize", time.process_time()))
        thumbnail(full)
        steps.append(("thumbnail", time.process_time()))
        cache.write_full(sha, full)
        steps.append(("cache write", time.process_time()))
        for name, end in steps:
            spent[name] = spent.get(name, 0.0) + (end - t) / len(paths)
            t = end
    return spent


def time_import(src: Path, work: Path, workers: int, run) -> float:
    with Project.create(work / f"Bench{run}") as project:
        t0 = time.perf_counter()
        report = import_sources(project, [src], workers=workers)
        seconds = time.perf_counter() - t0
        assert report.added == report.total and not report.errors, report.summary()
    return seconds


def _ratio(src: Path, paths: list[Path], tmp: Path, workers: int, repeat: int, tag: str):
    bare, xxh, sha, imp, bare_w = [], [], [], [], []
    time_bare(paths[: min(2, len(paths))])  # warm up imports and the page cache
    for r in range(repeat):  # interleaved, so a busy moment hits all of them
        bare.append(time_bare(paths))
        xxh.append(time_sha(paths, content_hash))
        sha.append(time_sha(paths))
        imp.append(time_import(src, tmp, workers, f"{tag}{r}"))
        bare_w.append(time_bare_parallel(paths, workers) if workers > 1 else bare[-1])
    n = len(paths)
    return {k: n / min(v) for k, v in
            (("bare", bare), ("xxh3", xxh), ("sha256", sha), ("import", imp),
             ("bare_w", bare_w))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=40, help="number of files (40)")
    parser.add_argument("--workers", type=int, default=None, help="import workers (all cores)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs, best kept (3)")
    parser.add_argument("--j2k", type=int, default=None,
                        help="JPEG 2000 files for the second row (default: N / 2; 0 skips it)")
    args = parser.parse_args(argv)
    workers = args.workers or default_workers()
    n_j2k = args.n // 2 if args.j2k is None else args.j2k
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        paths = make_files(tmp / "src", args.n)
        print(f"wrote {args.n} files of {ROWS}x{COLS} 12-bit in {time.perf_counter() - t0:.1f} s")
        raw = _ratio(tmp / "src", paths, tmp, workers, args.repeat, "raw")
        stages = time_stages(paths, tmp)
        j2k = None
        if n_j2k:
            jpaths = make_files(tmp / "j2k", n_j2k, j2k=True)
            j2k = _ratio(tmp / "j2k", jpaths, tmp, workers, args.repeat, "j2k")
    for label, fps in (("bare dcmread().pixel_array, 1 process", raw["bare"]),
                       ("xxh3-128 of the file bytes, 1 process", raw["xxh3"]),
                       ("sha256 of the file bytes, 1 process", raw["sha256"]),
                       (f"bare loop split over {workers} processes", raw["bare_w"]),
                       (f"import_sources, {workers} workers", raw["import"])):
        print(f"{label:<40}{fps:8.1f} files/s")
    print("worker steps, CPU ms per file: " + ", ".join(
        f"{name} {seconds * 1000:.1f}" for name, seconds in stages.items()))
    ratio = raw["import"] / workers / raw["bare"]
    print(f"per core: import {raw['import'] / workers:.1f} files/s vs bare {raw['bare']:.1f} "
          f"files/s; xxh3-128 alone runs at {raw['xxh3'] / raw['bare']:.1f}x bare")
    print(f"RESULT import_per_core_ratio {ratio:.3f}")
    # How far the cores scale at all: the bare loop on the same processes, same files.
    print(f"the bare loop scales {raw['bare_w'] / raw['bare']:.2f}x on {workers} processes; "
          f"import against it: RESULT import_vs_parallel_bare_ratio "
          f"{raw['import'] / raw['bare_w']:.3f}")
    if j2k:
        print(f"JPEG 2000 lossless: bare {j2k['bare']:.2f} files/s, import "
              f"{j2k['import']:.2f} files/s on {workers} workers")
        print(f"RESULT import_j2k_per_core_ratio {j2k['import'] / workers / j2k['bare']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
