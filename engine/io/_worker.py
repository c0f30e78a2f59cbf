"""The per-file work of an import, run in worker processes.

A worker reads the file once, hashes it, decodes it, checks everything, and
only then writes the content-addressed cache copy; it returns the metadata and
the (small) thumbnail. It never touches the database and never raises: a bad
file comes back as an ``Outcome`` with ``error`` set.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.io._decoded import ImageReadError
from engine.io._limits import check_patient_id
from engine.io._reader import decode_bytes
from engine.io._resample import cache_pixels, thumbnail
from engine.store import ImageCache, ImageRecord, content_hash, legacy_hash


@dataclass(frozen=True)
class Job:
    """One file to import, with what the parent already knows about it."""

    path: str
    source_folder: str
    kind: str | None
    manifest_patient: str | None = None
    rule_patient: str | None = None
    rule_error: str | None = None
    view: str | None = None
    laterality: str | None = None


@dataclass(frozen=True, eq=False)
class Outcome:
    """What a worker found: a record and thumbnail, a known hash, or an error."""

    path: str
    sha: str | None = None
    size: int = 0
    mtime: float | None = None
    known: bool = False
    record: ImageRecord | None = None
    thumb: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    error: str | None = None


def disk_full(exc: OSError, where) -> str:
    """The message for a full disk or exhausted quota while writing under ``where``."""
    return (f"disk full: {exc.strerror or exc} while writing to {where}; free space there "
            "and import again (what was stored so far is kept)")


class _State:
    cache: ImageCache | None = None
    known: frozenset[str] = frozenset()
    legacy_sizes: frozenset[int] = frozenset()


def init_worker(cache_root: str, known: frozenset[str], parent: int | None = None,
                legacy_sizes: frozenset[int] = frozenset()) -> None:
    """Process initialiser: where the cache is and which hashes the project already has.

    With ``parent`` (the importing process's pid) a daemon thread ends this worker
    within :data:`PARENT_POLL_S` once that process is gone (killed, crashed): an
    idle worker blocked on the job pipe would otherwise wait forever, because it
    holds the pipe's other end itself and never sees end-of-file.
    """
    _State.cache = ImageCache(Path(cache_root))
    _State.known = known
    _State.legacy_sizes = legacy_sizes
    if parent is not None:
        watch_parent(parent)


def watch_parent(parent: int) -> None:
    """Start the daemon thread that ends this process once ``parent`` has died."""
    if parent != os.getpid():
        threading.Thread(target=_watch_parent, args=(parent, os.getppid()), daemon=True,
                         name="parent-watch").start()


PARENT_POLL_S = 0.5


def _parent_alive(parent: int) -> bool:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch_parent(parent: int, ppid: int) -> None:
    while True:
        time.sleep(PARENT_POLL_S)
        if os.getppid() != ppid or not _parent_alive(parent):
            os._exit(3)  # nothing of ours is half-written: the cache copy is written last


def process(job: Job) -> Outcome:
    """Read, hash, decode, window, resize and cache one file."""
    try:
        with open(job.path, "rb") as fh:
            st = os.fstat(fh.fileno())
            data = fh.read()
    except OSError as exc:
        return Outcome(job.path, error=f"cannot read file: {exc.strerror or exc}")
    if not data:
        return Outcome(job.path, size=0, mtime=st.st_mtime, error="empty file (0 bytes)")
    sha = content_hash(data)
    if sha not in _State.known and len(data) in _State.legacy_sizes:
        legacy = legacy_hash(data)  # a project from before xxh3: same file, old identity?
        if legacy in _State.known:
            sha = legacy
    found = {"path": job.path, "sha": sha, "size": len(data), "mtime": st.st_mtime}
    if sha in _State.known:
        return Outcome(**found, known=True)
    try:
        return _decode(job, data, found)
    except ImageReadError as exc:
        return Outcome(**found, error=str(exc))
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return Outcome(**found, error=disk_full(exc, _State.cache.root))
        return Outcome(**found, error=f"cannot write the cache copy to {_State.cache.root}: "
                                      f"{exc.strerror or exc}")
    except Exception as exc:  # never let one file stop the import
        return Outcome(**found, error=f"unexpected {type(exc).__name__} while decoding: {exc}")


def _decode(job: Job, data: bytes, found: dict) -> Outcome:
    image = decode_bytes(data, job.kind, Path(job.path).suffix)
    del data
    meta = image.meta
    notes = list(image.notes)
    patient = job.manifest_patient or meta.patient_id or job.rule_patient
    if not patient:
        raise ImageReadError(job.rule_error or "no patient id (no PatientID, manifest or rule)")
    check_patient_id(patient)
    if job.manifest_patient and meta.patient_id and job.manifest_patient != meta.patient_id:
        notes.append(f"manifest patient {job.manifest_patient!r} used; the file says "
                     f"{meta.patient_id!r}")
    full = cache_pixels(image)
    thumb = thumbnail(full)
    window = image.window
    record = ImageRecord(
        path=job.path, source_folder=job.source_folder, sha256=found["sha"],
        bytes=found["size"], format=meta.format, width=meta.width, height=meta.height,
        patient_key=patient, bits_stored=meta.bits_stored, photometric=meta.photometric,
        window_center=float(window.center), window_width=float(window.width),
        pixel_spacing_row=meta.pixel_spacing_row, pixel_spacing_col=meta.pixel_spacing_col,
        view=job.view or meta.view, laterality=job.laterality or meta.laterality,
        study_uid=meta.study_uid, series_uid=meta.series_uid, sop_uid=meta.sop_uid,
        modality=meta.modality, study_date=meta.study_date,
        transfer_syntax=meta.transfer_syntax, mtime=found["mtime"],
        cache_height=full.shape[0], cache_width=full.shape[1],
        thumb_height=thumb.shape[0], thumb_width=thumb.shape[1],
    )
    _State.cache.write_full(found["sha"], full)  # last: only after every check passed
    return Outcome(**found, record=record, thumb=thumb, notes=tuple(notes))
