"""``import_sources``: scan, skip what is known, decode the rest in parallel, store."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.io._manifest import Manifest, ManifestEntry, read_manifest
from engine.io._parallel import default_workers, run_jobs
from engine.io._report import ImportReport
from engine.io._rules import ImportSetupError, PatientRule, folder_label
from engine.io._scan import Candidate, scan
from engine.io._worker import Job, Outcome
from engine.io._writer import Unit, Writer
from engine.store import SITE_MARKER_SOURCE, Project, fs_path, stored_path

Progress = Callable[[int, int, str], None]
CHANGED = "content changed since the last import: imported as a new image (the old row keeps " \
          "its label)"


@dataclass
class _Row:
    id: int | None  # None: inserted by this run, not committed yet
    path: str
    size: int
    mtime: float | None
    sha: str
    width: int
    height: int


class _Known:
    """What the project holds, loaded once: rows by path and by hash, labelled and ROI'd ids."""

    def __init__(self, project: Project):
        rows = project.query("SELECT id, path, bytes, mtime, sha256, width, height "
                             "FROM images ORDER BY id")
        self.by_path: dict[str, _Row] = {}
        self.by_sha: dict[str, _Row] = {}
        for r in rows:  # the newest row wins a path (a file whose content changed)
            row = _Row(r["id"], fs_path(r["path"]), r["bytes"], r["mtime"], r["sha256"], r["width"],
                       r["height"])
            self.by_path[row.path] = self.by_sha[row.sha] = row
        # An import label goes only to images nobody has labelled, ever (not even cleared).
        self.settled = {r[0] for r in project.query(
            "SELECT image_id FROM labels UNION SELECT image_id FROM label_history")}
        self.with_roi = {r[0] for r in project.query(
            "SELECT DISTINCT image_id FROM rois WHERE source != ?", (SITE_MARKER_SOURCE,))}
        self.with_marker = {r[0] for r in project.query(
            "SELECT DISTINCT image_id FROM rois WHERE source = ?", (SITE_MARKER_SOURCE,))}


def _unchanged(row: _Row, path: str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_size == row.size and st.st_mtime == row.mtime


class _Importer:
    def __init__(self, project: Project, manifest: Manifest | None, folder_labels: bool,
                 rule: PatientRule, reader: str, report: ImportReport):
        self.project, self.manifest, self.rule = project, manifest, rule
        self.folder_labels, self.reader, self.report = folder_labels, reader, report
        self.known = _Known(project)
        self.writer = Writer(project, report)

    def entry(self, cand: Candidate) -> ManifestEntry | None:
        return self.manifest.entries.get(cand.path) if self.manifest else None

    def job(self, cand: Candidate) -> Job:
        entry = self.entry(cand)
        rule_patient = rule_error = None
        try:
            rule_patient = self.rule.key(Path(cand.root).name, cand.rel)
        except ValueError as exc:
            rule_error = str(exc)
        return Job(cand.path, cand.root, cand.kind,
                   manifest_patient=entry.patient_id if entry else None,
                   rule_patient=rule_patient, rule_error=rule_error,
                   view=entry.view if entry else None,
                   laterality=entry.laterality if entry else None)

    def extras(self, cand: Candidate, image_id: int | None, width: int, height: int):
        """The import label and ROI this image should get now (decided before writing)."""
        entry = self.entry(cand)
        label = entry.label if entry and entry.label else None
        if label is None and self.folder_labels:
            label = folder_label(cand.folders)
        if image_id is not None:
            if image_id in self.known.settled:
                label = None
            elif label:
                self.known.settled.add(image_id)
        roi = entry.roi if entry else None
        if roi and image_id is not None and image_id in self.known.with_roi:
            roi = None
        if roi and (roi[2] > width or roi[3] > height):
            self.report.errors.append((entry.where, f"ROI {roi} lies outside the image "
                                       f"({width}x{height}); ROI not stored"))
            roi = None
        if roi and image_id is not None:
            self.known.with_roi.add(image_id)
        return label, roi, self._marker(entry, image_id, width, height)

    def _marker(self, entry: ManifestEntry | None, image_id: int | None, width: int,
                height: int):
        """The site-marker box to store (once per image, like the ROI)."""
        box = entry.site_marker if entry else None
        if box and image_id is not None and image_id in self.known.with_marker:
            return None
        if box and (box[2] > width or box[3] > height):
            self.report.errors.append((entry.where, f"site marker {box} lies outside the image "
                                       f"({width}x{height}); marker not stored"))
            return None
        if box and image_id is not None:
            self.known.with_marker.add(image_id)
        return box

    def _extras_fn(self, label, roi, marker=None):
        reader = self.reader

        def write(conn, image_id: int, count: Counter) -> None:
            if label and self.project.labels.set_in(conn, image_id, label, reader, "import"):
                count["labelled"] += 1
            if roi:
                self.project.rois.add(image_id, roi, reader, "import", conn=conn)
                count["rois"] += 1
            if marker:
                self.project.rois.add(image_id, marker, reader, SITE_MARKER_SOURCE, conn=conn)
        return write

    def existing(self, row: _Row, cand: Candidate, kind: str, mtime: float | None = None):
        """Queue the writes for an image already stored (unchanged, touched or moved)."""
        label, roi, marker = self.extras(cand, row.id, row.width, row.height)
        if kind == "unchanged" and mtime is None and not label and not roi and not marker:
            self.report.unchanged += 1
            return
        extras = self._extras_fn(label, roi, marker)
        image_id, source = row.id, cand.root

        def write(conn):
            count = Counter({kind: 1})
            if mtime is not None:
                self.project.images.relocate(conn, image_id, cand.path, source, mtime)
            extras(conn, image_id, count)
            return count
        self.writer.add(Unit(cand.path, write))

    def outcome(self, cand: Candidate, out: Outcome) -> None:
        if out.error:
            self.report.errors.append((out.path, out.error))
            return
        self.report.notes += [(out.path, note) for note in out.notes]
        row = self.known.by_sha.get(out.sha)
        if row is not None:
            if row.path == out.path:  # same bytes, new mtime (touched or copied back)
                row.mtime = out.mtime
                self.existing(row, cand, "unchanged", out.mtime)
            elif row.id is None or _unchanged(row, row.path):
                self.report.duplicates.append((out.path, row.path))
                self.writer.stored.append(out.path)
            else:  # the stored file is gone (or replaced): the image moved here
                if self.known.by_path.get(row.path) is row:
                    del self.known.by_path[row.path]
                row.path, row.mtime = out.path, out.mtime
                self.known.by_path[out.path] = row
                self.existing(row, cand, "relocated", out.mtime)
            return
        record, thumb = out.record, out.thumb
        if cand.path in self.known.by_path:
            self.report.changed.append(cand.path)
            self.report.notes.append((cand.path, CHANGED))
        new = _Row(None, cand.path, out.size, out.mtime, out.sha, record.width, record.height)
        self.known.by_path[cand.path] = self.known.by_sha[out.sha] = new
        extras = self._extras_fn(*self.extras(cand, None, record.width, record.height))
        images, cache = self.project.images, self.project.cache

        def write(conn):
            image_id = images.insert(conn, record)
            cache.write_thumb(image_id, thumb)
            count = Counter(added=1)
            extras(conn, image_id, count)
            return count
        self.writer.add(Unit(cand.path, write, sha=out.sha))


def import_sources(project: Project, sources: Iterable[str | Path] | str | Path,
                   manifest: str | Path | None = None, *, folder_labels: bool = True,
                   patient_rule: str | None = None, workers: int | None = None,
                   progress: Progress | None = None, reader: str = "import") -> ImportReport:
    """Import every image under ``sources`` (folders or files) into ``project``.

    See docs/import.md for the rules (patient keys, labels, duplicates,
    incremental re-import, moved files). Bad files never stop the import: each
    is listed in ``report.errors`` and stored with ``project.images.record_errors``.
    Raises ImportSetupError (ManifestError for the manifest) before anything
    is written when the arguments themselves are unusable.

    ``progress(done, total, path)`` is called in the calling thread after each
    file. An exception raised from it (or KeyboardInterrupt) cancels the
    import: images already processed are committed whole, nothing is half-written.
    """
    t0 = time.perf_counter()
    if not reader or not reader.strip():
        raise ImportSetupError("a reader name is required")
    if isinstance(sources, (str, Path)):
        sources = [sources]
    rule = PatientRule.parse(patient_rule)
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ImportSetupError(f"workers must be at least 1, not {workers}")
    man = read_manifest(manifest) if manifest is not None else None
    files = scan(sources, man.entries if man else (), man.path.parent if man else None)
    if man is not None:
        files = [f for f in files if f.path not in man.blocked]
    report = ImportReport(total=len(files))
    report.errors += man.errors if man else []
    report.warnings += man.warnings if man else []
    imp = _Importer(project, man, folder_labels, rule, reader.strip(), report)
    notify = progress or (lambda done, total, path: None)
    jobs, candidates, done = [], {}, 0
    for cand in files:
        row = imp.known.by_path.get(cand.path)
        if row is not None and row.size == cand.size and row.mtime == cand.mtime:
            imp.existing(row, cand, "unchanged")
            done += 1
            notify(done, len(files), cand.path)
        else:
            candidates[cand.path] = cand
            jobs.append(imp.job(cand))
    legacy = frozenset(r[0] for r in project.query(
        "SELECT DISTINCT bytes FROM images WHERE hash_algo = 'sha256'"))
    outcomes = run_jobs(jobs, workers, str(project.cache_dir), frozenset(imp.known.by_sha),
                        legacy)
    try:
        for out in outcomes:
            imp.outcome(candidates[out.path], out)
            done += 1
            notify(done, len(files), out.path)
    finally:
        outcomes.close()
        imp.writer.flush()
        _store_errors(project, report, man, imp.writer.stored)
        report.seconds = time.perf_counter() - t0
    return report


def _store_errors(project: Project, report: ImportReport, man: Manifest | None,
                  stored: list[str]) -> None:
    """Keep the project's error list current: clear what imported fine, record the rest."""
    stale = list(stored)
    if man is not None:  # rows of this manifest are checked afresh each time
        prefix = stored_path(f"{man.path}:")
        stale += [p for p, _, _ in project.images.errors() if p.startswith(prefix)]
    if stale:
        project.images.clear_errors(stale)
    project.images.record_errors(report.errors)
