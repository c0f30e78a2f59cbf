"""The mapping between image pixels and the femur frame ``(u, v)``.

Pixel ``(x, y)`` covers ``[x, x+1) x [y, y+1)``; its centre is at ``x + 0.5``.
``u`` runs down the (tilted) shaft axis, ``v`` across it, positive towards the
feature side (image right when ``side`` is +1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.phantom._specs import ImageSpec


@dataclass(frozen=True)
class Frame:
    height: int
    width: int
    spacing: float            # mm per pixel
    u_top: float
    axis_x: float             # mm from the left edge, at the top edge
    tilt: float               # radians; positive: distal end leans to the image right
    side: int

    @classmethod
    def for_spec(cls, spec: ImageSpec) -> Frame:
        a = spec.acquisition
        return cls(spec.height, spec.width, spec.spacing, a.u_top, a.axis_x,
                   math.radians(a.tilt_deg), spec.feature_side)

    def coarse(self, f: int) -> Frame:
        """The same view on a grid ``f`` times coarser (for smooth things)."""
        return Frame(-(-self.height // f), -(-self.width // f), self.spacing * f, self.u_top,
                     self.axis_x, self.tilt, self.side)

    def grid(self, rows: slice | None = None, cols: slice | None = None):
        """``(u, v)`` float32 arrays for the pixel centres (optionally a sub-window)."""
        rows = rows or slice(0, self.height)
        cols = cols or slice(0, self.width)
        s, c, sn = self.spacing, math.cos(self.tilt), math.sin(self.tilt)
        x = ((np.arange(cols.start, cols.stop) + 0.5) * s - self.axis_x).astype(np.float32)
        y = ((np.arange(rows.start, rows.stop) + 0.5) * s).astype(np.float32)
        u = (np.float32(self.u_top) + y[:, None] * np.float32(c)) + (x * np.float32(sn))[None, :]
        v = (x * np.float32(self.side * c))[None, :] - (y * np.float32(self.side * sn))[:, None]
        return u, v

    def to_px(self, u, v):
        """Continuous pixel coordinates ``(x, y)`` of femur-frame points."""
        u = np.asarray(u, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64) * self.side
        c, sn = math.cos(self.tilt), math.sin(self.tilt)
        du = u - self.u_top
        x_mm = du * sn + v * c + self.axis_x
        y_mm = du * c - v * sn
        return x_mm / self.spacing, y_mm / self.spacing

    def from_px(self, x, y):
        x_mm = np.asarray(x, dtype=np.float64) * self.spacing - self.axis_x
        y_mm = np.asarray(y, dtype=np.float64) * self.spacing
        c, sn = math.cos(self.tilt), math.sin(self.tilt)
        return self.u_top + x_mm * sn + y_mm * c, self.side * (x_mm * c - y_mm * sn)

    def axis_px(self) -> tuple[float, float, float, float]:
        """A point on the (unbowed) shaft axis at the top edge and its unit direction."""
        x0, y0 = self.to_px(self.u_top, 0.0)
        return float(x0), float(y0), math.sin(self.tilt), math.cos(self.tilt)

    def slices(self, u, v, pad: int = 2) -> tuple[slice, slice] | None:
        """The pixel window covering the femur-frame points ``(u, v)``, or None if outside."""
        x, y = self.to_px(u, v)
        x0 = max(0, int(math.floor(float(np.min(x)))) - pad)
        x1 = min(self.width, int(math.ceil(float(np.max(x)))) + pad)
        y0 = max(0, int(math.floor(float(np.min(y)))) - pad)
        y1 = min(self.height, int(math.ceil(float(np.max(y)))) + pad)
        if x1 <= x0 or y1 <= y0:
            return None
        return slice(y0, y1), slice(x0, x1)


def box_corners(u0: float, u1: float, v0: float, v1: float) -> tuple[np.ndarray, np.ndarray]:
    return np.array([u0, u0, u1, u1]), np.array([v0, v1, v0, v1])
