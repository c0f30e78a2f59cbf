"""Things that are not anatomy: lead side markers, rulers and orthopaedic implants."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from engine.phantom._femur import FemurModel, _sqrt_pos
from engine.phantom._filters import block_mean
from engine.phantom._frame import Frame
from engine.phantom._specs import Acquisition, Fracture

MU_METAL = 0.16            # steel, per mm
MU_LEAD_MARKER = 1.8       # a lead letter, total
PLATE_LENGTH, PLATE_WIDTH, PLATE_THICKNESS = 110.0, 16.0, 4.5
SCREW_RADIUS = 2.25
_SUPER = 4


def _letter_mask(letter: str, size_px: int) -> np.ndarray:
    """An anti-aliased ``size_px`` square mask of a block letter L or R (1 = lead)."""
    n = size_px * _SUPER
    img = Image.new("L", (n, n), 0)
    d = ImageDraw.Draw(img)

    def box(x0, y0, x1, y1):
        d.rectangle([x0 * n, y0 * n, x1 * n, y1 * n], fill=255)

    box(0.18, 0.1, 0.36, 0.9)
    if letter == "L":
        box(0.18, 0.72, 0.8, 0.9)
    else:
        box(0.18, 0.1, 0.55, 0.27)
        box(0.18, 0.44, 0.55, 0.6)
        d.arc([0.3 * n, 0.1 * n, 0.8 * n, 0.6 * n], start=-90, end=90, fill=255,
              width=max(1, int(0.17 * n)))
        d.polygon([(0.42 * n, 0.55 * n), (0.6 * n, 0.55 * n), (0.86 * n, 0.9 * n),
                   (0.66 * n, 0.9 * n)], fill=255)
    return block_mean(np.asarray(img, dtype=np.float32) / 255.0, _SUPER)


def marker_into(att: np.ndarray, frame: Frame, letter: str, x_mm: float, y_mm: float,
                size_mm: float) -> None:
    """A lead letter in a plastic holder, ``(x_mm, y_mm)`` its top-left corner."""
    s = frame.spacing
    size = max(6, int(round(size_mm / s)))
    x0, y0 = int(round(x_mm / s)), int(round(y_mm / s))
    x1, y1 = min(att.shape[1], x0 + size), min(att.shape[0], y0 + size)
    if x1 <= x0 or y1 <= y0 or x0 < 0 or y0 < 0:
        return
    mask = _letter_mask(letter, size)[: y1 - y0, : x1 - x0]
    att[y0:y1, x0:x1] += 0.12 + MU_LEAD_MARKER * mask


def ruler_into(att: np.ndarray, frame: Frame, x_mm: float) -> None:
    """A radiolucent ruler with metal ticks every 5 mm (long ones every 10 mm)."""
    s = frame.spacing
    x = (np.arange(att.shape[1]) + 0.5) * s - x_mm
    cols = np.nonzero((x >= 0) & (x <= 12.0))[0]
    if cols.size == 0:
        return
    y = (np.arange(att.shape[0]) + 0.5) * s
    nearest = np.abs(np.mod(y + 2.5, 5.0) - 2.5)         # distance to the closest tick
    tick = np.clip((0.3 - nearest) / s + 0.5, 0.0, 1.0)
    long_tick = np.mod(np.round(y / 5.0), 2) == 0
    length = np.where(long_tick, 7.0, 4.0)
    xs = x[cols] if frame.side < 0 else 12.0 - x[cols]  # ticks on the femur's side: L/R mirror
    strip = 0.1 + MU_METAL * 4.0 * tick[:, None] * (xs[None, :] <= length[:, None])
    att[:, cols] += strip.astype(np.float32)


def _rod_path(u, w, p0, p1, radius):
    """Metal path through a cylinder of ``radius`` between ``p0`` and ``p1`` (u, w)."""
    length = math.hypot(p1[0] - p0[0], p1[1] - p0[1])
    du, dw = (p1[0] - p0[0]) / length, (p1[1] - p0[1]) / length
    pu, pw = u - p0[0], w - p0[1]
    a = pu * du + pw * dw
    inside = (a >= 0) & (a <= length)
    return 2.0 * _sqrt_pos(radius * radius - (pw * du - pu * dw) ** 2) * inside


def implant_into(att: np.ndarray, u, w, model: FemurModel, acq: Acquisition, fx: Fracture,
                 place) -> None:
    """A lateral plate with screws on the shaft, or cannulated screws in the neck."""
    if acq.implant == "plate":
        ua = acq.implant_at
        piece = "prox" if ua + PLATE_LENGTH < fx.level else "dist"
        w_lat, w_med = model.surfaces(ua + PLATE_LENGTH / 2)
        sl = place(piece, (ua - 5.0, ua + PLATE_LENGTH + 5.0, w_med - 8.0, w_lat + 12.0))
        if sl is None:
            return
        uu, ww = u[sl], w[sl]
        along = (uu >= ua) & (uu <= ua + PLATE_LENGTH)
        holes = [ua + 9.0 + k * (PLATE_LENGTH - 18.0) / 5 for k in range(6)]
        if model.view == "AP":
            plate = along & (ww >= w_lat) & (ww <= w_lat + PLATE_THICKNESS)
            path = PLATE_WIDTH * plate
            for h in holes:
                path = path + _rod_path(uu, ww, (h, w_lat + 3.0), (h, w_med - 2.0), SCREW_RADIUS)
        else:
            co = 0.5 * (w_lat + w_med)
            plate = along & (np.abs(ww - co) <= PLATE_WIDTH / 2)
            path = PLATE_THICKNESS * plate
            for h in holes:
                r2 = ((uu - h) ** 2 + (ww - co) ** 2) / SCREW_RADIUS ** 2
                path = path + (w_lat - w_med + 5.0) * _sqrt_pos(1.0 - r2)
        att[sl] += (MU_METAL * path).astype(np.float32)
    elif acq.implant == "screws":
        f = model.femur
        wh = -f.head_offset if model.view == "AP" else 0.18 * f.head_offset
        u_start = model.u_neck + 32.0
        w_start = model.surfaces(u_start)[0] if model.view == "AP" else -2.0
        sl = place("prox", (model.u_head - f.head_radius, u_start + 15.0,
                            min(wh, w_start) - 25.0, max(wh, w_start) + 25.0))
        if sl is None:
            return
        uu, ww = u[sl], w[sl]
        length = math.hypot(model.u_head - u_start, wh - w_start)
        du, dw = (model.u_head - u_start) / length, (wh - w_start) / length
        path = np.zeros(uu.shape, np.float32)
        for off in (-7.0, 0.0, 7.0):
            p0 = (u_start - dw * off, w_start + du * off)
            p1 = (p0[0] + du * (length + 0.5 * f.head_radius),
                  p0[1] + dw * (length + 0.5 * f.head_radius))
            path += _rod_path(uu, ww, p0, p1, 3.2).astype(np.float32)
        att[sl] += MU_METAL * path
