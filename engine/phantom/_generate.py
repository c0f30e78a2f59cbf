"""Writing a whole phantom study: DICOM (and PNG) files plus the manifest, in parallel."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from engine.phantom._config import PhantomConfig, PhantomError
from engine.phantom._dicom import write_dicom, write_png
from engine.phantom._manifest import MANIFEST_NAME, ManifestRow, manifest_row, write_manifest
from engine.phantom._render import render_image
from engine.phantom._sampling import plan_study
from engine.phantom._specs import ImageSpec

CONFIG_NAME = "phantom.json"
Progress = Callable[[int, int, Path], None]


@dataclass(frozen=True)
class PhantomStudy:
    """What :func:`generate` wrote."""

    root: Path
    manifest: Path
    rows: tuple[ManifestRow, ...]
    config: PhantomConfig
    seconds: float

    @property
    def images(self) -> int:
        return len(self.rows)

    @property
    def patients(self) -> int:
        return len({r.patient_id for r in self.rows})

    @property
    def aff_share(self) -> float:
        """Share of AFF patients."""
        aff = {r.patient_id for r in self.rows if r.label == "AFF"}
        return len(aff) / max(1, self.patients)

    @property
    def aff_image_share(self) -> float:
        return sum(r.label == "AFF" for r in self.rows) / max(1, self.images)


def relative_paths(spec: ImageSpec) -> tuple[str, str]:
    """DICOM and PNG paths of ``spec``, relative to the study folder."""
    return (f"dicom/{spec.patient_id}/{spec.name}.dcm", f"png/{spec.patient_id}/{spec.name}.png")


def _render_and_write(spec: ImageSpec, root: str, png: bool) -> ManifestRow:
    image = render_image(spec)
    dcm, png_rel = relative_paths(spec)
    write_dicom(image, Path(root) / dcm)
    if png:
        write_png(image, Path(root) / png_rel)
    return manifest_row(image, dcm, png_rel if png else "")


def _prepare(out: Path, overwrite: bool) -> None:
    manifest = out / MANIFEST_NAME
    if manifest.exists():
        if not overwrite:
            raise PhantomError(
                f"{out} already holds a phantom study ({MANIFEST_NAME}); choose an empty "
                f"folder or pass overwrite=True (affengine phantom --overwrite) to replace it")
        manifest.unlink()
        for sub in ("dicom", "png"):
            shutil.rmtree(out / sub, ignore_errors=True)
        (out / CONFIG_NAME).unlink(missing_ok=True)
    if out.exists() and not out.is_dir():
        raise PhantomError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)


def generate(out_dir: str | os.PathLike, config: PhantomConfig, progress: Progress | None = None,
             workers: int | None = None, *, overwrite: bool = False) -> PhantomStudy:
    """Write ``config``'s study under ``out_dir``: ``dicom/<patient>/<image>.dcm``, optional
    ``png/...``, ``manifest.csv`` (written last) and ``phantom.json`` (the config).

    The output depends only on ``config``, never on ``workers`` (default: all CPUs).
    ``progress(done, total, path)`` is called in the calling process after each image.
    A folder that already has a manifest is refused unless ``overwrite``.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    _prepare(out, overwrite)
    specs = [spec for patient in plan_study(config) for spec in patient.images]
    total = len(specs)
    rows: list[ManifestRow | None] = [None] * total
    workers = max(1, min(workers or os.cpu_count() or 1, total))

    def report(done: int, row: ManifestRow) -> None:
        if progress is not None:
            progress(done, total, out / row.path)

    if workers == 1:
        for k, spec in enumerate(specs):
            rows[k] = _render_and_write(spec, str(out), config.png)
            report(k + 1, rows[k])
    else:
        # spawn: safe in a process that holds threads (a GUI, a worker) on every platform
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures = {pool.submit(_render_and_write, spec, str(out), config.png): k
                       for k, spec in enumerate(specs)}
            try:
                for done, future in enumerate(as_completed(futures), 1):
                    k = futures[future]
                    rows[k] = future.result()
                    report(done, rows[k])
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    (out / CONFIG_NAME).write_text(json.dumps(config.to_dict(), indent=2) + "\n",
                                   encoding="utf-8")
    manifest = out / MANIFEST_NAME
    write_manifest(manifest, rows)
    return PhantomStudy(out, manifest, tuple(rows), config, time.perf_counter() - t0)
