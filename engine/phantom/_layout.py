"""Geometry without pixels: where the femur, the fracture line and the ROI fall in an image."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.phantom._femur import FemurModel
from engine.phantom._fracture import MAIN_POINTS, MARGIN, FractureScene
from engine.phantom._frame import Frame
from engine.phantom._specs import ImageSpec


@dataclass(frozen=True)
class Scene:
    frame: Frame
    model: FemurModel
    fracture: FractureScene | None


def build_scene(spec: ImageSpec, features: bool = True) -> Scene:
    frame = Frame.for_spec(spec)
    model = FemurModel(spec.femur, spec.view, spec.fracture if features else None)
    fracture = FractureScene(model, spec.fracture, frame.spacing) if features else None
    return Scene(frame, model, fracture)


@dataclass(frozen=True)
class ImageGeometry:
    """Ground truth of one image, in source pixel coordinates ``(x, y)``.

    ``roi`` is ``(x0, y0, x1, y1)`` with ``[x0, x1) x [y0, y1)`` inside the image: the
    fracture line on both main fragments, the beak and any fragments, plus 3 mm.
    ``line`` is the fracture line on the proximal fragment, from its lateral entry
    (``entry``) to its medial end; ``main`` its part before any medial spike.
    ``axis_dir`` is the shaft axis direction (pointing distally) at the fracture.
    """

    roi: tuple[int, int, int, int]
    line: np.ndarray
    main: np.ndarray
    entry: tuple[float, float]
    axis_dir: tuple[float, float]
    spacing: float
    lateral_side: str          # "left" | "right": image side of the feature cortex

    def measured_angle_deg(self) -> float:
        """Angle between the main line and the perpendicular to the shaft axis, from pixels."""
        d = self.main[-1] - self.main[0]
        along = abs(d[0] * self.axis_dir[0] + d[1] * self.axis_dir[1])
        across = abs(-d[0] * self.axis_dir[1] + d[1] * self.axis_dir[0])
        return math.degrees(math.atan2(along, across))


def roi_box(frame: Frame, points_uv: np.ndarray) -> tuple[int, int, int, int]:
    x, y = frame.to_px(points_uv[:, 0], points_uv[:, 1])
    m = MARGIN / frame.spacing + 1.0
    x0 = max(0, int(math.floor(float(x.min()) - m)))
    y0 = max(0, int(math.floor(float(y.min()) - m)))
    x1 = min(frame.width, int(math.ceil(float(x.max()) + m)))
    y1 = min(frame.height, int(math.ceil(float(y.max()) + m)))
    return x0, y0, x1, y1


def geometry(scene: Scene) -> ImageGeometry:
    frame, fx = scene.frame, scene.fracture
    line_uv = fx.to_uv(fx.line)
    x, y = frame.to_px(line_uv[:, 0], line_uv[:, 1])
    line = np.column_stack([x, y])
    level = fx.fx.level
    eps = 1.0
    b0, b1 = (float(b) for b in scene.model.bow(np.array([level - eps, level + eps])))
    ax0, ay0 = frame.to_px(level - eps, b0)
    ax1, ay1 = frame.to_px(level + eps, b1)
    norm = math.hypot(float(ax1 - ax0), float(ay1 - ay0))
    return ImageGeometry(
        roi=roi_box(frame, fx.roi_points()),
        line=line,
        main=line[:MAIN_POINTS],
        entry=(float(x[0]), float(y[0])),
        axis_dir=(float(ax1 - ax0) / norm, float(ay1 - ay0) / norm),
        spacing=frame.spacing,
        lateral_side="right" if frame.side > 0 else "left",
    )


def layout(spec: ImageSpec) -> ImageGeometry:
    """The ground-truth geometry of ``spec`` (no rendering; about a millisecond)."""
    return geometry(build_scene(spec))
