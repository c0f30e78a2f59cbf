"""Frozen descriptions of what gets rendered: femur, fracture, acquisition, image, patient.

All lengths are millimetres in the femur frame: ``u`` runs along the shaft axis from
the top of the femoral head (0) towards the knee, ``w`` across it, positive towards
the *feature side* (the lateral cortex in AP views, the anterior cortex in lateral
views; see ``docs/phantom.md``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Femur:
    """One femur's anatomy; shared by every image of that femur."""

    length: float
    shaft_radius: float
    cortex: float             # mid-shaft cortical thickness
    lateral_excess: float     # lateral minus medial cortical thickness
    head_radius: float
    head_offset: float        # head centre to shaft axis (AP)
    neck_angle: float         # neck-shaft angle, degrees
    bow: float                # shaft bow towards the feature side at mid-shaft
    density: float            # cortical attenuation scale
    thigh: float              # half width of the thigh at mid-shaft
    fat: float                # subcutaneous fat thickness
    joint_gap: float          # knee joint space


@dataclass(frozen=True)
class Fracture:
    """A fracture as seen in one view.

    ``angle_deg`` is the angle between the main fracture line (from its lateral
    entry to its medial end, or the start of the medial spike) and the
    perpendicular to the shaft axis; ``slope`` is +1 when the line runs distally
    as it crosses medially. ``level`` is ``u`` where the line leaves the lateral
    cortex surface.
    """

    label: str                # "AFF" | "NFF"
    kind: str                 # "transverse" | "oblique" | "spiral" | "comminuted"
    level: float
    angle_deg: float
    slope: int
    complete: bool
    crack_depth: float        # incomplete: depth from the lateral surface
    gap: float                # width of the lucent line
    curvature: float          # spiral bend (mm^-1), 0 for straight lines
    spike_angle_deg: float    # medial spike: 0 for none
    spike_start: float        # spike starts this far (mm) from the medial surface
    spike_slope: int
    beak: float               # periosteal thickening height at the line
    endosteal: float          # endosteal thickening height at the line
    beak_length: float        # decay length of both
    shift: float              # distal fragment translation across the axis
    shortening: float         # distal fragment translation along the axis (<0 overlap)
    angulation_deg: float
    butterfly: float          # butterfly fragment base length, 0 for none
    butterfly_side: int       # +1 feature side, -1 opposite
    butterfly_shift: float
    chips: tuple[tuple[float, float, float], ...] = ()   # (du, w, radius)
    swelling: float | None = None   # soft-tissue swelling, mm; None: realistic rule

    @property
    def fragments(self) -> int:
        """Extra fragments beyond the two main ones (comminution)."""
        return int(self.butterfly > 0) + len(self.chips)


@dataclass(frozen=True)
class Acquisition:
    """Placement, exposure, processing and file format of one image."""

    fov: float                # field of view height, mm (pixel spacing = fov / height)
    u_top: float              # femur u at the top row, on the axis
    axis_x: float             # axis x at the top row, mm from the left edge
    tilt_deg: float
    modality: str             # "CR" | "DX"
    photometric: str          # "MONOCHROME1" | "MONOCHROME2"
    transfer_syntax: str      # one of TRANSFER_SYNTAXES
    rescale: tuple[float, float] | None   # (slope, intercept)
    noise: float              # log-domain quantum noise at 0.17 mm pixels
    blur: float               # system blur sigma, mm
    drc: float                # dynamic range compression strength
    drc_scale: float          # its low-pass sigma, mm
    edge: float               # unsharp-mask gain
    gamma: float
    gain: float
    offset: float
    collimation: tuple[float, float, float, float]   # insets (left, top, right, bottom), mm
    collimation_deg: float
    shutter: str              # "bright" (unexposed) | "black" (electronic shutter)
    marker: tuple[float, float]   # marker top-left (x, y), mm
    marker_size: float
    ruler: float              # ruler x position in mm, or -1 for none
    implant: str              # "none" | "plate" | "screws"
    implant_at: float         # plate: u of its proximal end
    site_marker: tuple[int, int, int, int] | None = None   # burned-in shortcut box, pixels


@dataclass(frozen=True)
class ImageSpec:
    """Everything needed to render one image, deterministically."""

    seed: int
    patient_index: int
    image_index: int
    patient_id: str
    label: str
    view: str                 # "AP" | "lateral"
    laterality: str           # "L" | "R"
    study_date: str           # YYYYMMDD
    height: int
    width: int
    difficulty: float
    femur: Femur
    fracture: Fracture
    acquisition: Acquisition

    @property
    def name(self) -> str:
        view = "AP" if self.view == "AP" else "LAT"
        return f"{self.patient_id}_{self.image_index + 1:02d}_{self.laterality}_{view}"

    @property
    def spacing(self) -> float:
        return self.acquisition.fov / self.height

    @property
    def feature_side(self) -> int:
        """+1 when the lateral (AP) / anterior (lateral view) cortex is on the image right."""
        return 1 if self.laterality == "L" else -1


@dataclass(frozen=True)
class PatientPlan:
    """One patient's label and images."""

    patient_id: str
    label: str
    bilateral: bool
    images: tuple[ImageSpec, ...]
