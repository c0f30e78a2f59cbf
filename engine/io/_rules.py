"""Naming rules: patient keys from paths, labels from folder names, view and side codes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from engine.errors import InvalidInput
from engine.store import LABELS

LABEL_FOLDERS = {"aff": "AFF", "nff": "NFF"}
_VIEWS = {"AP": "AP", "PA": "AP", "LL": "lateral", "RL": "lateral", "LAT": "lateral",
          "LATERAL": "lateral", "ML": "lateral", "LM": "lateral"}
_SIDES = {"L": "L", "R": "R", "LEFT": "L", "RIGHT": "R"}


class ImportSetupError(InvalidInput):
    """Bad import arguments (a source that does not exist, a bad patient rule, ...)."""


def dicom_view(value) -> str | None:
    """``AP`` or ``lateral`` from a DICOM View Position (AP/PA, LL/RL/LAT/LATERAL), else None."""
    return _VIEWS.get(str(value or "").strip().upper())


def dicom_side(value) -> str | None:
    """``L``/``R`` from Image Laterality / Laterality; ``B``, ``U`` and blanks give None."""
    text = str(value or "").strip().upper()
    return text if text in ("L", "R") else None


def parse_view(text: str) -> str | None:
    """A manifest view (AP, PA, lateral, LAT, LL, RL, ...; any case); blank -> None."""
    text = text.strip()
    if not text:
        return None
    view = _VIEWS.get(text.upper())
    if view is None:
        raise ValueError(f"unknown view {text!r} (use AP or lateral)")
    return view


def parse_side(text: str) -> str | None:
    """A manifest laterality (L, R, left, right; any case); blank -> None."""
    text = text.strip()
    if not text:
        return None
    side = _SIDES.get(text.upper())
    if side is None:
        raise ValueError(f"unknown laterality {text!r} (use L or R)")
    return side


def parse_label(text: str) -> str | None:
    """A manifest label, matched without regard to case; blank -> None."""
    text = text.strip()
    if not text:
        return None
    for label in LABELS:
        if text.lower() == label.lower():
            return label
    raise ValueError(f"unknown label {text!r} (use {', '.join(LABELS)} or leave blank)")


def folder_label(folders: tuple[str, ...]) -> str | None:
    """``AFF``/``NFF`` from the folder nearest the file named so (any case), else None."""
    for name in reversed(folders):
        label = LABEL_FOLDERS.get(name.lower())
        if label:
            return label
    return None


@dataclass(frozen=True)
class PatientRule:
    """How a patient key is made from a file's path when neither the file nor the manifest says.

    ``default``: the parent folder's name, or the file stem when that folder is
    called AFF/NFF; ``parent``: always the parent folder's name; ``stem``: the
    file name without suffix; anything else is a regular expression searched
    in the path relative to the source folder (``/`` separators), whose first
    group (or group ``patient``) is the key.
    """

    spec: str = "default"
    pattern: re.Pattern | None = None

    @classmethod
    def parse(cls, spec: str | None) -> PatientRule:
        spec = (spec or "default").strip() or "default"
        if spec in ("default", "parent", "stem"):
            return cls(spec)
        try:
            pattern = re.compile(spec)
        except re.error as exc:
            raise ImportSetupError(f"bad patient rule {spec!r}: {exc}") from None
        if pattern.groups < 1:
            raise ImportSetupError(
                f"patient rule {spec!r} needs a group, e.g. '^([^/]+)/' for the first folder")
        return cls(spec, pattern)

    def key(self, root_name: str, rel: PurePosixPath) -> str:
        """The patient key of the file at ``rel`` under a source folder called ``root_name``.

        Raises ValueError with the reason when the rule gives no key.
        """
        parent = rel.parent.name if rel.parent.name else root_name
        if self.spec == "stem" or (self.spec == "default" and parent.lower() in LABEL_FOLDERS):
            key = rel.stem
        elif self.spec in ("default", "parent"):
            key = parent
        else:
            match = self.pattern.search(rel.as_posix())
            if match is None:
                raise ValueError(f"patient rule {self.spec!r} does not match {rel.as_posix()!r}")
            key = match.group("patient") if "patient" in self.pattern.groupindex \
                else match.group(1)
        key = (key or "").strip()
        if not key:
            raise ValueError(f"patient rule {self.spec!r} gives an empty patient for {rel}")
        return key
