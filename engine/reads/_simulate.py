"""Simulated readers for demos and tests: one reading session per reader, subtle AFF missed more.

The truth is the phantom manifest's label (else the current AFF/NFF label). Each read comes
from a latent suspicion ``x``: NFF images ``x ~ N(0, 1)``; an AFF image with feature size
``z`` (standardised ``log(beak_mm + 0.1) + 1.5·complete`` over the AFF images, from the
manifest) has ``x ~ N(t + a + b·z, 1)`` with ``t = Φ⁻¹(specificity)``, so it is read AFF
(``x > t``) with probability ``Φ(a + b·z)``; ``a`` is solved so the mean over the AFF images is
the requested sensitivity and ``b`` (``size_effect``) sets how much more the small features are
missed. The confidence is ``1 + ⌊|x - t| / 0.5⌋`` capped at 5, so the scores carry the ranking an
MRMC analysis needs. Readers are independent given the image, so they agree on the obvious
images and disagree on the subtle ones, as real readers do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from engine.errors import InvalidInput
from engine.reads._sessions import ImageSet, ReadingSession, create_session, session_image_ids
from engine.store import Project, utc_now


@dataclass(frozen=True)
class Truth:
    """What a simulated reader needs of an image: its true label and its feature size."""

    label: str  # AFF | NFF
    size: float | None  # beak_mm + 1.5 when complete; None when no manifest describes the image


def _norm(path: str) -> str:
    return os.path.normcase(os.path.normpath(os.path.abspath(path)))


def phantom_truth(project: Project, manifest: str | Path | None = None) -> dict[int, Truth]:
    """``image_id -> Truth`` from the phantom manifest(s) beside the images, else the current labels.

    Without ``manifest``, a ``manifest.csv`` in each image's source folder (or a parent of the
    image, up to three levels) is used.
    """
    from engine.phantom import MANIFEST_NAME, read_manifest

    rows = project.query("SELECT i.id, i.path, i.source_folder, l.label FROM images i "
                         "LEFT JOIN labels l ON l.image_id = i.id")
    manifests: dict[Path, dict[str, object]] = {}

    def load(path: Path) -> dict[str, object]:
        if path not in manifests:
            try:
                entries = read_manifest(path)
            except (OSError, ValueError):
                entries = ()
            table: dict[str, object] = {}
            for m in entries:
                for rel in (m.path, m.png_path):
                    if rel:
                        table[_norm(str(path.parent / rel))] = m
            manifests[path] = table
        return manifests[path]

    out: dict[int, Truth] = {}
    matched = 0
    for r in rows:
        candidates = [Path(manifest)] if manifest else [Path(r["source_folder"]) / MANIFEST_NAME] + [
            p / MANIFEST_NAME for p in list(Path(r["path"]).parents)[:3]]
        found = None
        for c in candidates:
            if c.is_file():
                found = load(c).get(_norm(r["path"]))
                if found is not None:
                    break
        if found is not None:
            size = float(found.beak_mm) + (1.5 if found.complete else 0.0) if found.label == "AFF" else None
            out[r["id"]] = Truth(found.label, size)
            matched += 1
        elif r["label"] in ("AFF", "NFF"):
            out[r["id"]] = Truth(r["label"], None)
    if manifest and not matched:
        raise InvalidInput(f"{manifest}: describes none of the project's images")
    return out


def _calibrate(z: np.ndarray, b: float, target: float) -> float:
    """``a`` with ``mean Φ(a + b z) = target`` (bisection; the mean rises with ``a``)."""
    lo, hi = -20.0, 20.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if stats.norm.cdf(mid + b * z).mean() < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def simulate_readers(project: Project, readers: int = 2, sensitivity: float = 0.7, specificity: float = 0.95,
                     seed: int = 0, image_set: ImageSet | None = None, manifest: str | Path | None = None,
                     prefix: str = "sim", size_effect: float = 1.0,
                     mode: str = "blind") -> list[ReadingSession]:
    """Create ``readers`` simulated reading sessions (``<prefix>-1``...) and read every image with truth.

    Images with no truth (no manifest row and no AFF/NFF label) are left unread.
    """
    if not (isinstance(readers, int) and readers >= 1):
        raise InvalidInput(f"--readers must be 1 or more, not {readers!r}")
    for name, v in (("sensitivity", sensitivity), ("specificity", specificity)):
        if not 0 < v < 1:
            raise InvalidInput(f"--{name} must be between 0 and 1 (exclusive), not {v}")
    truth = phantom_truth(project, manifest)
    if not truth:
        raise InvalidInput(f"{project.path}: no image has a known truth (no phantom manifest and no AFF/NFF "
                           "label); simulated readers need one")
    t = float(stats.norm.ppf(specificity))
    sessions = []
    for r in range(1, readers + 1):
        s = create_session(project, f"{prefix}-{r}", f"simulated {prefix}-{r}", image_set, mode=mode,
                           confidence=True, source="simulated")
        ids = [i for i in session_image_ids(project, s) if i in truth]
        aff = [i for i in ids if truth[i].label == "AFF"]
        sizes = np.array([truth[i].size if truth[i].size is not None else np.nan for i in aff], dtype=float)
        logs = np.log(np.where(np.isnan(sizes), np.nanmedian(sizes) if np.isfinite(sizes).any() else 1.0,
                               sizes) + 0.1)
        z = (logs - logs.mean()) / logs.std() if len(logs) > 1 and logs.std() > 0 else np.zeros(len(logs))
        a = _calibrate(z, size_effect, sensitivity) if len(aff) else 0.0
        shift = dict(zip(aff, t + a + size_effect * z, strict=True))
        rng = np.random.default_rng([seed, r])
        x = np.array([shift.get(i, 0.0) for i in ids]) + rng.normal(0, 1, len(ids))
        conf = np.minimum(5, 1 + np.floor(np.abs(x - t) / 0.5)).astype(int)
        seconds = np.round(rng.lognormal(np.log(6.0), 0.4, len(ids)) * (1 + 1.5 * np.exp(-np.abs(x - t))), 2)
        now = utc_now()
        with project.transaction() as conn:
            conn.executemany(
                "INSERT INTO reads(session_id, image_id, reader, label, confidence, seconds, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(s.id, i, s.reader, "AFF" if xi > t else "NFF", int(c), float(sec), now)
                 for i, xi, c, sec in zip(ids, x, conf, seconds, strict=True)])
        sessions.append(s)
    return sessions
