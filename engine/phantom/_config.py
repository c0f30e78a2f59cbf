"""The phantom's configuration: one frozen, JSON-serialisable dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidInput

FULL_HEIGHT, FULL_WIDTH = 2500, 2000
TRANSFER_SYNTAXES = ("explicit", "implicit", "rle", "jpeg2000")
CONFOUNDS = ("realistic", "none")
SHORTCUTS = ("none", "marker")
MIN_SIDE, MAX_SIDE = 128, 8192


class PhantomError(InvalidInput):
    """A phantom request that cannot be carried out (bad config, existing output)."""


@dataclass(frozen=True)
class PhantomConfig:
    """What a synthetic study looks like; ``dataclasses.asdict`` gives its JSON form.

    ``difficulty`` (0..1) shrinks the AFF beak and lowers contrast, raises noise and
    the share of incomplete AFF and near-transverse comminuted NFF.

    ``confounds`` says where label evidence may lie. ``"realistic"`` (the default, the
    demo's) lets AFF and NFF differ outside the fracture ROI as they do clinically
    (displacement, fracture level, swelling, cortex and bow); ``"none"`` draws all of
    those from one label-independent distribution, so a model that is right must be
    reading the ROI (docs/phantom.md, "Confounds").

    ``shortcut="marker"`` plants a spurious cue: a burned-in site marker in the top-left
    corner on ``shortcut_aff_share`` of AFF images and ``shortcut_nff_share`` of NFF
    images (exact shares, rounded); the manifest records its box.
    """

    patients: int = 100
    seed: int = 0
    aff_share: float = 0.2
    height: int = FULL_HEIGHT
    width: int = FULL_WIDTH
    difficulty: float = 0.5
    png: bool = False
    bilateral_share: float = 0.3
    implant_share: float = 0.06
    ruler_share: float = 0.1
    monochrome1_share: float = 0.3
    transfer_syntaxes: tuple[str, ...] = TRANSFER_SYNTAXES
    confounds: str = "realistic"
    shortcut: str = "none"
    shortcut_aff_share: float = 0.8
    shortcut_nff_share: float = 0.1

    def __post_init__(self) -> None:
        def fail(msg: str) -> None:
            raise PhantomError(f"phantom config: {msg}")

        for name in ("patients", "seed", "height", "width"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                fail(f"{name} must be an integer, got {value!r}")
        if self.patients < 1:
            fail(f"patients must be at least 1, got {self.patients}")
        if self.seed < 0:
            fail(f"seed must be >= 0, got {self.seed}")
        for name in ("height", "width"):
            if not MIN_SIDE <= getattr(self, name) <= MAX_SIDE:
                fail(f"{name} must be in {MIN_SIDE}..{MAX_SIDE}, got {getattr(self, name)}")
        if not 0.4 <= self.width / self.height <= 1.25:
            fail(f"width/height must be in 0.4..1.25 (a portrait femur view), "
                 f"got {self.width}x{self.height}")
        for name in ("aff_share", "difficulty", "bilateral_share", "implant_share",
                     "ruler_share", "monochrome1_share", "shortcut_aff_share",
                     "shortcut_nff_share"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                fail(f"{name} must be in 0..1, got {value!r}")
        if self.confounds not in CONFOUNDS:
            fail(f"confounds must be one of {', '.join(CONFOUNDS)}, got {self.confounds!r}")
        if self.shortcut not in SHORTCUTS:
            fail(f"shortcut must be one of {', '.join(SHORTCUTS)}, got {self.shortcut!r}")
        syntaxes = tuple(self.transfer_syntaxes)
        unknown = sorted(set(syntaxes) - set(TRANSFER_SYNTAXES))
        if not syntaxes or unknown:
            fail(f"transfer_syntaxes must be a non-empty subset of {TRANSFER_SYNTAXES}, "
                 f"got {syntaxes!r}")
        object.__setattr__(self, "transfer_syntaxes", syntaxes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhantomConfig:
        """Inverse of :meth:`to_dict` (lists from JSON become tuples)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise PhantomError(f"phantom config: unknown field(s) {', '.join(unknown)}")
        values = dict(data)
        if "transfer_syntaxes" in values:
            values["transfer_syntaxes"] = tuple(values["transfer_syntaxes"])
        return cls(**values)
