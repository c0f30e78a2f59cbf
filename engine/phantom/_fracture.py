"""The fracture: its line, the rigid fragments, the gap, comminution and the ROI.

Fragments are rigid copies of the intact femur: a pixel shows fragment ``k`` when the
point it maps back to (``Rigid.inverse``) lies on that fragment's side of the line.
Near the fracture every fragment is evaluated (so overriding fragments add up);
elsewhere each pixel takes the proximal or distal fragment by its side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.phantom._femur import FemurModel, smoothstep
from engine.phantom._specs import Fracture

MARGIN = 3.0        # mm around the fracture line, beak and fragments in the ROI
MAIN_POINTS = 41    # samples of the main line (before any medial spike)


@dataclass(frozen=True)
class Rigid:
    """Rotation by ``angle`` (radians) about ``pivot`` followed by a translation."""

    angle: float = 0.0
    tu: float = 0.0
    tv: float = 0.0
    pu: float = 0.0
    pv: float = 0.0

    def forward(self, u, v):
        c, s = math.cos(self.angle), math.sin(self.angle)
        du, dv = u - self.pu, v - self.pv
        return self.pu + c * du - s * dv + self.tu, self.pv + s * du + c * dv + self.tv

    def inverse(self, u, v):
        c, s = math.cos(self.angle), math.sin(self.angle)
        du, dv = u - self.pu - self.tu, v - self.pv - self.tv
        return self.pu + c * du + s * dv, self.pv - s * du + c * dv


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class FractureScene:
    """One fracture in one view, on a femur model that already carries its beak."""

    def __init__(self, model: FemurModel, fx: Fracture, spacing: float):
        self.model, self.fx = model, fx
        self.soft = max(0.08, 0.35 * spacing)
        # the line is drawn in a frame that follows the bowed shaft's local axis
        self.bow_level = float(model.bow(np.float32(fx.level)))
        k = math.pi / model.length
        tilt = math.atan(model.bow_amp * k * math.cos(k * fx.level))
        self._cos, self._sin = math.cos(tilt), math.sin(tilt)
        self.w_lat, w_med = model.surfaces(fx.level)
        total = self.w_lat - w_med
        for _ in range(2):   # the medial end sits where the line meets the medial surface
            line = self._polyline(total)
            total = self.w_lat - model.surfaces(float(line[-1, 0]))[1]
        self.line = self._polyline(total if fx.complete else fx.crack_depth)
        self.w_med = self.w_lat - total
        ext = self.line[::-1]                         # ascending w
        d0 = (ext[1] - ext[0]) / max(ext[1, 1] - ext[0, 1], 1e-6)
        d1 = (ext[-1] - ext[-2]) / max(ext[-1, 1] - ext[-2, 1], 1e-6)
        ext = np.vstack([ext[0] - 400.0 * d0, ext, ext[-1] + 400.0 * d1])
        self._w, self._u = ext[:, 1], ext[:, 0]
        slopes = np.diff(self._u) / np.maximum(np.diff(self._w), 1e-6)
        cos = 1.0 / np.sqrt(1.0 + slopes ** 2)
        self._normal = np.concatenate([[cos[0]], 0.5 * (cos[1:] + cos[:-1]), [cos[-1]]])
        mid = float(np.interp(0.5 * (self.w_lat + self.w_med), self._w, self._u))
        pu, pv = self.to_uv(np.array([[mid, 0.5 * (self.w_lat + self.w_med)]]))[0]
        self.distal = Rigid(math.radians(fx.angulation_deg), fx.shortening, fx.shift, pu, pv)
        self.wedge, self.wedge_rigid = self._butterfly()

    # ---- geometry -------------------------------------------------------------------------
    def _polyline(self, depth: float) -> np.ndarray:
        fx = self.fx
        tan_a = math.tan(math.radians(fx.angle_deg))
        has_spike = fx.complete and fx.spike_angle_deg > 0
        t_main = max(depth - fx.spike_start, 0.5 * depth) if has_spike else depth
        t = np.linspace(0.0, t_main, MAIN_POINTS)
        u = fx.level + fx.slope * (tan_a * t + fx.curvature * t * (t - t_main))
        # a fracture edge is not ruler-straight: a little deterministic roughness
        phase = (fx.level * 7.31) % (2 * math.pi)
        rough = 0.12 + 0.05 * fx.gap
        u = u + rough * np.sin(math.pi * t / max(t_main, 1e-6)) * (
            np.sin(2 * math.pi * t / 8.7 + phase) + 0.7 * np.sin(2 * math.pi * t / 4.3 + 2.3 * phase)
            + 0.4 * np.sin(2 * math.pi * t / 2.6 + 3.7 * phase))
        pts = [np.column_stack([u, self.w_lat - t])]
        if has_spike and depth > t_main:
            t2 = np.linspace(t_main, depth, 6)[1:]
            tan_b = math.tan(math.radians(fx.spike_angle_deg))
            u2 = u[-1] + fx.spike_slope * tan_b * (t2 - t_main)
            pts.append(np.column_stack([u2, self.w_lat - t2]))
        return np.vstack(pts)

    def u_line(self, w):
        return np.interp(w, self._w, self._u)

    def local(self, u, v):
        """Femur-frame ``(u, v)`` to the fracture's frame ``(u, w)`` (axis-aligned at the line)."""
        du, dv = u - self.fx.level, v - self.bow_level
        return (self.fx.level + du * self._cos + dv * self._sin,
                dv * self._cos - du * self._sin)

    def side(self, u, w):
        """Signed distance (mm, along the normal) from the line; > 0 on the distal side.
        ``(u, w)`` are in the fracture's frame (see :meth:`local`)."""
        return (u - self.u_line(w)) * np.interp(w, self._w, self._normal)

    def _butterfly(self):
        fx = self.fx
        if fx.butterfly <= 0 or not fx.complete:
            return None, None
        sgn = fx.butterfly_side
        w_s = self.w_lat if sgn > 0 else self.w_med
        u_c = float(self.u_line(w_s))
        w_a = w_s - sgn * 0.55 * (self.w_lat - self.w_med)
        tri = np.array([[float(self.u_line(w_a)), w_a],
                        [u_c - fx.butterfly / 2, w_s + sgn * 4.0],
                        [u_c + fx.butterfly / 2, w_s + sgn * 4.0]])
        cu, cv = self.to_uv(tri.mean(axis=0)[None, :])[0]
        rigid = Rigid(math.radians(6.0 * sgn * min(fx.butterfly_shift, 8.0) / 8.0),
                      0.3 * fx.butterfly_shift, sgn * fx.butterfly_shift, cu, cv)
        return tri, rigid

    def _inside_wedge(self, u, w):
        tri = self.wedge
        centre = tri.mean(axis=0)
        dist = None
        for i in range(3):
            p, q = tri[i], tri[(i + 1) % 3]
            n = np.array([-(q[1] - p[1]), q[0] - p[0]])
            n /= np.hypot(*n)
            if np.dot(centre - p, n) < 0:
                n = -n
            d = (u - p[0]) * n[0] + (w - p[1]) * n[1]
            dist = d if dist is None else np.minimum(dist, d)
        return dist

    # ---- pixels ---------------------------------------------------------------------------
    def window(self) -> tuple[float, float, float, float]:
        """A (u0, u1, v0, v1) box outside which each pixel shows exactly one main fragment:
        it holds the line on both fragments, the wedge and the chips."""
        fx = self.fx
        pts = [self.to_uv(self.line)]
        if fx.complete:
            pts.append(self.to_uv(self.line, self.distal))
        if self.wedge is not None:
            pts += [self.to_uv(self.wedge), self.to_uv(self.wedge, self.wedge_rigid)]
        for du, cw, r in fx.chips:
            cu = float(self.u_line(cw)) + du
            pts.append(self.to_uv(np.array([[cu - r, cw - r], [cu + r, cw + r]])))
        pts = np.vstack(pts)
        pad = 5.0 + 2.0 * fx.gap
        return (float(pts[:, 0].min()) - pad, float(pts[:, 0].max()) + pad,
                float(pts[:, 1].min()) - pad, float(pts[:, 1].max()) + pad)

    def piecewise(self, u, v):
        """Map every pixel to the intact femur through its proximal or distal fragment."""
        distal = u > np.float32(self.fx.level)
        u0, u1, v0, v1 = self.window()
        band = (u > u0) & (u < u1) & (v > v0) & (v < v1)
        if band.any():
            distal[band] = self.side(*self.local(u[band], v[band])) > 0
        if not self.fx.complete:
            return u, v
        rows = np.flatnonzero(distal.any(axis=1))
        if rows.size == 0:
            return u, v
        uu, vv = u.copy(), v.copy()
        r = slice(int(rows[0]), None)
        du, dv = self.distal.inverse(u[r], v[r])
        uu[r] = np.where(distal[r], du, u[r])
        vv[r] = np.where(distal[r], dv, v[r])
        return uu, vv

    def composite(self, u, v):
        """Outer/inner chords inside the window, summing every fragment that covers a pixel."""
        fx, m, g, eps = self.fx, self.model, self.fx.gap / 2.0, self.soft
        if not fx.complete:
            outer, inner = m.chords(u, v - m.bow(u))
            lu, w = self.local(u, v)
            band = _sigmoid((g - np.abs(self.side(lu, w))) / eps)
            depth = smoothstep(self.w_lat - fx.crack_depth - 0.8, self.w_lat - fx.crack_depth
                               + 0.8, w)
            keep = (1.0 - band * depth).astype(np.float32)
            return outer * keep, inner * keep
        outer = np.zeros(u.shape, np.float32)
        inner = np.zeros(u.shape, np.float32)
        pieces = [(Rigid(), -1.0), (self.distal, 1.0)]
        if self.wedge is not None:
            pieces.append((self.wedge_rigid, 0.0))
        for rigid, sgn in pieces:
            pu, pv = rigid.inverse(u, v)
            pw = pv - m.bow(pu)
            lu, lw = self.local(pu, pv)
            if sgn == 0.0:
                mask = _sigmoid((self._inside_wedge(lu, lw) - g) / eps)
            else:
                mask = _sigmoid((sgn * self.side(lu, lw) - g) / eps)
                if self.wedge is not None:
                    mask = mask * (1.0 - _sigmoid((self._inside_wedge(lu, lw) + g) / eps))
            live = mask > 1e-4
            rows, cols = np.flatnonzero(live.any(axis=1)), np.flatnonzero(live.any(axis=0))
            if rows.size == 0:
                continue
            sl = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
            o, i = m.chords(pu[sl], pw[sl])
            weight = mask[sl].astype(np.float32)
            outer[sl] += o * weight
            inner[sl] += i * weight
        for du, cw, r in fx.chips:
            cu, cv = self.to_uv(np.array([[float(self.u_line(cw)) + du, cw]]))[0]
            d2 = ((u - cu) ** 2 + (v - cv) ** 2) / (r * r)
            outer += (1.6 * r * np.sqrt(np.maximum(1.0 - d2, 0.0))).astype(np.float32)
        return outer, inner

    # ---- ground truth ---------------------------------------------------------------------
    def to_uv(self, pts_uw: np.ndarray, rigid: Rigid | None = None) -> np.ndarray:
        du, w = pts_uw[:, 0] - self.fx.level, pts_uw[:, 1]
        u = self.fx.level + du * self._cos - w * self._sin
        v = self.bow_level + w * self._cos + du * self._sin
        if rigid is not None:
            u, v = rigid.forward(u, v)
        return np.column_stack([u, v])

    def roi_points(self) -> np.ndarray:
        """Femur-frame ``(u, v)`` points the ROI must hold: line, beak and fragments."""
        fx = self.fx
        movers = [None, self.distal] if fx.complete else [None]
        pts = [self.to_uv(self.line, r) for r in movers]
        if fx.beak > 0.25:
            reach = fx.beak_length * math.log(fx.beak / 0.25)
            ro, co, ri, ci = self.model.section(fx.level)
            inner = ci + ri
            beak = np.array([[fx.level - reach, self.w_lat], [fx.level + reach, self.w_lat],
                             [fx.level - reach, inner], [fx.level + reach, inner]])
            pts += [self.to_uv(beak, r) for r in movers]
        if self.wedge is not None:
            pts.append(self.to_uv(self.wedge, self.wedge_rigid))
        for du, cw, r in fx.chips:
            cu = float(self.u_line(cw)) + du
            pts.append(self.to_uv(np.array([[cu - r, cw - r], [cu + r, cw + r]])))
        return np.vstack(pts)
