"""Finding the image files under the import sources."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from engine.io._reader import HEAD_BYTES, kind_by_content, kind_by_name, should_sniff
from engine.io._rules import ImportSetupError

_SKIP_DIRS = {"__MACOSX", "$RECYCLE.BIN", "System Volume Information"}


@dataclass(frozen=True)
class Candidate:
    """A file to import: where it is, under which source folder, and its size and mtime."""

    path: str
    root: str
    rel: PurePosixPath
    kind: str | None
    size: int
    mtime: float

    @property
    def folders(self) -> tuple[str, ...]:
        """The source folder's name and every folder between it and the file."""
        return (Path(self.root).name, *self.rel.parent.parts)


def _walk(root: Path) -> Iterator[os.DirEntry]:
    """Files under ``root`` in a stable order; hidden entries and project folders are skipped."""
    try:
        with os.scandir(root) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in _SKIP_DIRS and not entry.name.endswith(".affproj"):
                    yield from _walk(Path(entry.path))
            elif entry.is_file():
                yield entry
        except OSError:
            continue


def _sniff(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError:
        return None
    kind = kind_by_content(head, path.suffix)
    return kind if kind == "dicom" else None


def _candidate(path: Path, root: Path, rel: PurePosixPath, kind: str | None,
               st: os.stat_result) -> Candidate:
    return Candidate(str(path), str(root), rel, kind, st.st_size, st.st_mtime)


def scan(sources: Iterable[str | Path], listed: Iterable[str] = (),
         listed_root: Path | None = None) -> list[Candidate]:
    """Image files under ``sources`` (folders walked recursively, or single files).

    Files with the suffixes of :data:`engine.io.SUFFIXES` are taken by name;
    others only when they look like DICOM (a 'DICM' marker, or a raw dataset
    without suffix). ``listed`` are files a manifest names: they are taken even
    outside the sources, relative to ``listed_root``. Raises ImportSetupError
    for a source that does not exist.
    """
    found: dict[str, Candidate] = {}
    roots = []
    for source in sources:
        path = Path(os.path.abspath(Path(source).expanduser()))
        if not path.exists():
            raise ImportSetupError(f"source not found: {source}")
        roots.append(path)
    for root in roots:
        if root.is_file():
            entries = [(root, root.parent, PurePosixPath(root.name))]
        else:
            entries = ((Path(e.path), root, PurePosixPath(Path(e.path).relative_to(root).as_posix()))
                       for e in _walk(root))
        for path, base, rel in entries:
            if str(path) in found:
                continue
            kind = kind_by_name(path)
            if kind is None:
                if not should_sniff(path):
                    continue
                kind = _sniff(path)
                if kind is None:
                    continue
            try:
                st = path.stat()
            except OSError:
                continue
            found[str(path)] = _candidate(path, base, rel, kind, st)
    for text in listed:
        if text in found:
            continue
        path = Path(text)
        base = listed_root if listed_root and path.is_relative_to(listed_root) else path.parent
        try:
            st = path.stat()
        except OSError:
            continue
        rel = PurePosixPath(path.relative_to(base).as_posix())
        found[text] = _candidate(path, base, rel, kind_by_name(path) or _sniff(path), st)
    return list(found.values())
