"""Placing the femur in the image, then collimating, marking and equipping the view.

Every choice keeps the fracture ROI well inside the image and the collimated field,
and keeps markers, rulers and implants off it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from engine.phantom._config import PhantomConfig
from engine.phantom._femur import FemurModel
from engine.phantom._hardware import PLATE_LENGTH
from engine.phantom._layout import build_scene, geometry
from engine.phantom._specs import ImageSpec

EDGE_MM = 8.0           # ROI to image edge / collimator, at least
RULER_WIDTH = 12.0
PLATE_GAP = 45.0        # plate end to ROI, at least


def _with(spec: ImageSpec, **acquisition) -> ImageSpec:
    return dataclasses.replace(spec, acquisition=dataclasses.replace(spec.acquisition,
                                                                     **acquisition))


def _position(rng: np.random.Generator, spec: ImageSpec):
    """Choose ``u_top``/``axis_x``; returns the spec, the model and the ROI's u range."""
    fov, s = spec.acquisition.fov, spec.spacing
    width_mm = spec.width * s
    scene = build_scene(_with(spec, u_top=0.0, axis_x=width_mm / 2))
    model, length = scene.model, scene.model.length
    pts = scene.fracture.roi_points()
    ru0, ru1 = float(pts[:, 0].min()), float(pts[:, 0].max())
    u_top = 0.5 * (ru0 + ru1) - rng.uniform(0.25, 0.75) * fov
    u_top = float(np.clip(u_top, -70.0, length + 110.0 - fov))
    u_top = float(np.clip(u_top, ru1 + 0.06 * fov - fov, ru0 - 0.06 * fov))
    axis_x = width_mm * (0.5 + spec.feature_side * rng.uniform(0.0, 0.1))
    spec = _with(spec, u_top=u_top, axis_x=axis_x)
    roi = geometry(build_scene(spec)).roi
    m = EDGE_MM / s
    dx = max(0.0, m - roi[0]) - max(0.0, roi[2] - (spec.width - m))
    if dx:
        spec = _with(spec, axis_x=axis_x + dx * s)
    return spec, model, (ru0, ru1)


def _collimate(rng: np.random.Generator, spec: ImageSpec, model: FemurModel, roi_mm):
    """Insets (left, top, right, bottom) in mm and a rotation, clear of ROI and shaft."""
    a, s = spec.acquisition, spec.spacing
    width_mm, height_mm = spec.width * s, spec.height * s
    x0, y0, x1, y1 = roi_mm
    reach = 2.2 * spec.femur.shaft_radius + 12.0 + model.bow_amp
    axis = (a.axis_x, a.axis_x + np.sin(np.radians(a.tilt_deg)) * height_mm)
    room_left = min(x0 - EDGE_MM, min(axis) - reach)
    room_right = min(width_mm - x1 - EDGE_MM, width_mm - max(axis) - reach)

    def inset(room: float, cap: float, p: float) -> float:
        hit = rng.random() < p
        return float(rng.uniform(0.0, max(0.0, min(room, cap)))) if hit else 0.0

    insets = (inset(room_left, 0.16 * width_mm, 0.75), inset(y0 - EDGE_MM, 0.06 * height_mm, 0.5),
              inset(room_right, 0.16 * width_mm, 0.75),
              inset(height_mm - y1 - EDGE_MM, 0.06 * height_mm, 0.5))
    rotation = rng.uniform(-1.5, 1.5) if rng.random() < 0.4 else 0.0
    return insets, rotation


def _ruler(rng, config: PhantomConfig, spec: ImageSpec, insets, roi_mm) -> float:
    """The ruler's x (mm) on the medial side, or -1 for none."""
    if rng.random() >= config.ruler_share:
        return -1.0
    left, _, right, _ = insets
    if spec.feature_side > 0:
        x = left + rng.uniform(5.0, 20.0)
    else:
        x = spec.width * spec.spacing - right - RULER_WIDTH - rng.uniform(5.0, 20.0)
    clear = x + RULER_WIDTH < roi_mm[0] - 2.0 or x > roi_mm[2] + 2.0
    return x if clear else -1.0


def _marker(rng, spec: ImageSpec, insets, roi_mm, ruler: float) -> tuple[float, float]:
    """Top-left corner (mm) of the L/R marker: a field corner clear of ROI and ruler."""
    left, top, right, bottom = insets
    size = spec.acquisition.marker_size
    w, h = spec.width * spec.spacing, spec.height * spec.spacing
    x0, y0, x1, y1 = roi_mm
    corners = [(left + 6.0, top + 6.0), (w - right - 6.0 - size, top + 6.0),
               (left + 6.0, h - bottom - 6.0 - size), (w - right - 6.0 - size, h - bottom - 6.0 - size)]
    order = [int(j) for j in rng.permutation(4)]
    for j in order:
        mx, my = corners[j]
        clear_roi = mx > x1 + 5 or mx + size < x0 - 5 or my > y1 + 5 or my + size < y0 - 5
        clear_ruler = ruler < 0 or mx > ruler + RULER_WIDTH + 2.0 or mx + size < ruler - 2.0
        if clear_roi and clear_ruler:
            return corners[j]
    return corners[order[0]]


def _implant(rng, config: PhantomConfig, spec: ImageSpec, model: FemurModel, ru0, ru1):
    """``("plate", u)`` on the shaft away from the ROI, ``("screws", 0)`` in the neck, or none."""
    if rng.random() >= config.implant_share:
        return "none", 0.0
    a = spec.acquisition
    if a.u_top < model.u_neck and rng.random() < 0.5:
        return "screws", 0.0
    lo = max(model.u_shaft - 10.0, a.u_top + 10.0)
    hi = min(model.u_flare + 40.0, a.u_top + a.fov - 10.0)
    options = []
    if ru0 - PLATE_GAP - PLATE_LENGTH >= lo:
        options.append(rng.uniform(lo, ru0 - PLATE_GAP - PLATE_LENGTH))
    if ru1 + PLATE_GAP + PLATE_LENGTH <= hi:
        options.append(rng.uniform(ru1 + PLATE_GAP, hi - PLATE_LENGTH))
    if not options:
        return "none", 0.0
    return "plate", float(options[int(rng.integers(len(options)))])


def place(rng: np.random.Generator, config: PhantomConfig, spec: ImageSpec) -> ImageSpec:
    """Position the femur so the ROI is well inside, then collimate, mark and equip."""
    spec, model, (ru0, ru1) = _position(rng, spec)
    roi_mm = tuple(v * spec.spacing for v in geometry(build_scene(spec)).roi)
    insets, rotation = _collimate(rng, spec, model, roi_mm)
    ruler = _ruler(rng, config, spec, insets, roi_mm)
    marker = _marker(rng, spec, insets, roi_mm, ruler)
    implant, implant_at = _implant(rng, config, spec, model, ru0, ru1)
    return _with(spec, collimation=insets, collimation_deg=rotation, marker=marker, ruler=ruler,
                 implant=implant, implant_at=implant_at)
