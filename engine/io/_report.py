"""What an import did, file by file where it matters."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ImportReport:
    """Counts and lists of one :func:`engine.io.import_sources` run.

    ``duplicates`` are ``(path, stored_path)``: same bytes as an image already
    in the project, not imported again. ``changed`` are paths whose content
    differs from what was imported from them before: imported as new images.
    ``errors`` are ``(path, reason)`` of files skipped (for a bad manifest row
    the path is ``<manifest>:<line>``); ``notes`` are ``(path, remark)`` of
    files imported with a remark (first frame of many, colour made grey, ...).
    """

    total: int = 0
    added: int = 0
    relocated: int = 0
    unchanged: int = 0
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    labelled: int = 0
    rois: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a manifest read as Latin-1
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no file was skipped for an error."""
        return not self.errors

    def summary(self) -> str:
        """One line, e.g. ``12 added, 0 relocated, 3 unchanged, 1 duplicate, 2 errors``."""
        dup = len(self.duplicates)
        parts = [f"{self.added} added", f"{self.relocated} relocated",
                 f"{self.unchanged} unchanged", f"{dup} duplicate{'s' if dup != 1 else ''}",
                 f"{len(self.errors)} error{'s' if len(self.errors) != 1 else ''}"]
        if self.changed:
            parts.append(f"{len(self.changed)} changed")
        return (", ".join(parts) + f"; {self.labelled} labelled, {self.rois} ROIs"
                f" ({self.total} files, {self.seconds:.1f} s)")
