"""The projected femur: a tube with varying radius and cortex, plus head, neck, trochanters
and condyles, as chord lengths through cortical (``O - I``) and trabecular (``I``) bone.

A ray's path through the cortex is the outer chord minus the inner chord, so the walls
seen tangentially come out bright and the medullary canal darker, as on a radiograph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.phantom._specs import Femur, Fracture

STEP = 0.5          # profile sampling along u, mm
MU_MUSCLE, MU_FAT, MU_CORTEX = 0.022, 0.019, 0.07
MU_MARROW, MU_TRABECULAR = 0.021, 0.028


def smoothstep(a: float, b: float, x):
    t = np.clip((np.asarray(x, dtype=np.float64) - a) / (b - a), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _sqrt_pos(a):
    return np.sqrt(np.maximum(a, 0.0))


class Profiles:
    """Tables sampled every :data:`STEP` mm along ``u`` with a fast linear lookup."""

    def __init__(self, u0: float, tables: np.ndarray):
        self.u0 = u0
        self.tables = tables.astype(np.float32)
        self.n = tables.shape[1]

    def __call__(self, u, count: int | None = None) -> np.ndarray:
        """The first ``count`` tables (all by default) at ``u``, linearly interpolated."""
        t = (np.asarray(u, dtype=np.float32) - np.float32(self.u0)) * np.float32(1.0 / STEP)
        t = np.clip(t, 0.0, self.n - 1.001)
        i = t.astype(np.int32)
        f = t - i
        tables = self.tables[:count] if count else self.tables
        lo = tables[:, i]
        return lo + f * (tables[:, i + 1] - lo)

    def index_range(self, u0: float, u1: float) -> tuple[int, int]:
        i0 = int(np.clip((u0 - self.u0) / STEP, 0, self.n - 1))
        i1 = int(np.clip((u1 - self.u0) / STEP + 1, 0, self.n - 1))
        return i0, i1


@dataclass(frozen=True)
class Blob:
    """An ellipsoid bone with a cortical shell (in-plane radii ``ru``, ``rw``)."""

    piece: str
    cu: float
    cw: float
    ru: float
    rw: float
    depth: float
    shell: float

    def bbox(self):
        return self.cu - self.ru, self.cu + self.ru, self.cw - self.rw, self.cw + self.rw

    def chords(self, u, w):
        du, dw = (u - np.float32(self.cu)), (w - np.float32(self.cw))
        q = (du / self.ru) ** 2 + (dw / self.rw) ** 2
        outer = 2.0 * self.depth * _sqrt_pos(1.0 - q)
        s = self.shell
        qi = (du / (self.ru - s)) ** 2 + (dw / (self.rw - s)) ** 2
        inner = 2.0 * (self.depth - s) * _sqrt_pos(1.0 - qi)
        return outer.astype(np.float32), inner.astype(np.float32)


@dataclass(frozen=True)
class Rod:
    """A cylinder (the femoral neck) from ``(u0, w0)`` towards ``(u1, w1)``, waisted."""

    piece: str
    u0: float
    w0: float
    u1: float
    w1: float
    radius: float
    shell: float
    depth: float

    def bbox(self):
        r = self.radius
        return (min(self.u0, self.u1) - r, max(self.u0, self.u1) + r,
                min(self.w0, self.w1) - r, max(self.w0, self.w1) + r)

    def chords(self, u, w):
        length = math.hypot(self.u1 - self.u0, self.w1 - self.w0)
        du, dw = (self.u1 - self.u0) / length, (self.w1 - self.w0) / length
        pu, pw = u - np.float32(self.u0), w - np.float32(self.w0)
        a = pu * du + pw * dw
        p2 = (pw * du - pu * dw) ** 2
        r = self.radius * (1.0 - 0.08 * np.sin(np.pi * np.clip(a / length, 0.0, 1.0)))
        start = 0.5 * self.radius          # the head, not the neck, owns its centre
        fade = np.clip((length - a) / 8.0 + 1.0, 0.0, 1.0) * np.clip((a - start) / 6.0, 0.0, 1.0)
        outer = 2.0 * self.depth * _sqrt_pos(r * r - p2) * fade
        inner = 2.0 * self.depth * _sqrt_pos((r - self.shell) ** 2 - p2) * fade
        return outer.astype(np.float32), inner.astype(np.float32)


class FemurModel:
    """One femur in one view; a ``fracture`` with a beak adds its localised periosteal and
    endosteal thickening of the lateral (feature-side) cortex."""

    def __init__(self, femur: Femur, view: str, fracture: Fracture | None = None):
        self.femur, self.view = femur, view
        f, ap = femur, view == "AP"
        L, R0, rh = f.length, f.shaft_radius, f.head_radius
        self.length = L
        self.bow_amp = f.bow * (1.0 if ap else 1.8)
        self.u_head = rh
        self.u_neck = rh + f.head_offset / math.tan(math.radians(180.0 - f.neck_angle))
        self.u_lesser = self.u_neck + 36.0
        self.u_shaft = self.u_lesser + 22.0           # below the lesser trochanter
        self.u_flare = 0.66 * L                        # supracondylar flare starts
        u_fe = L - 30.0
        rt = R0 + (11.0 if ap else 6.0)
        self.condyle_halfwidth = rc = (2.75 if ap else 2.3) * R0

        u = np.arange(-60.0, L + 40.0 + STEP, STEP)
        prox = (rt - R0) * (1.0 - smoothstep(self.u_neck - 10.0, self.u_shaft, u))
        dist = (rc - R0) * smoothstep(self.u_flare, u_fe, u) ** 1.6
        ro = R0 * (1.0 + 0.07 * (1.0 - smoothstep(self.u_shaft, self.u_shaft + 90.0, u)))
        ro = ro + prox + dist
        co = (0.1 if ap else -0.25) * prox + (-0.06 if ap else -0.42) * dist
        cap_top, cap_low = (self.u_neck, self.u_neck - 25.0) if ap else (self.u_neck, rh * 1.3)
        cap = _sqrt_pos(1.0 - (np.maximum(cap_top - u, 0.0) / (cap_top - cap_low)) ** 2)
        cap = cap * _sqrt_pos(1.0 - (np.maximum(u - (L - 34.0), 0.0) / 20.0) ** 2)
        plateau = smoothstep(self.u_neck, self.u_shaft + 25.0, u) * (
            1.0 - smoothstep(self.u_flare - 30.0, self.u_flare + 50.0, u))
        cortex = 1.4 + (f.cortex - 1.4) * plateau * (1.0 + 0.08 * np.exp(-((u - 0.42 * L) / 70) ** 2))
        delta = f.lateral_excess * plateau
        ri = np.maximum(ro - cortex, 0.0) * cap
        ro = ro * cap
        ci = co - delta / 2.0
        if fracture is not None and fracture.beak > 0:
            # the beak peaks where the line leaves the lateral surface; the line is drawn
            # square to the bowed shaft's local axis (see FractureScene.local)
            k = math.pi / L
            tilt = math.atan(self.bow_amp * k * math.cos(k * fracture.level))
            w_surface = float(np.interp(fracture.level, u, co + ro)) + fracture.beak
            d = np.abs(u - (fracture.level - w_surface * math.sin(tilt)))
            h = fracture.beak * np.exp(-d / fracture.beak_length)
            e = fracture.endosteal * np.exp(-d / (0.8 * fracture.beak_length))
            ro, co = ro + h / 2.0, co + h / 2.0
            ri, ci = np.maximum(ri - e / 2.0, 0.0), ci - e / 2.0
        if ap:
            depth = 1.0 - 0.2 * smoothstep(self.u_flare, u_fe, u) - 0.12 * prox / (rt - R0)
        else:
            depth = 1.0 + 0.2 * smoothstep(self.u_flare, u_fe, u) + 0.15 * prox / (rt - R0)
        mut = MU_MARROW + (MU_TRABECULAR - MU_MARROW) * (1.0 - plateau)
        self.profiles = Profiles(u[0], np.stack([ro, co, ri, ci, depth, mut]))
        self._reach = np.abs(co) + ro
        self.mu_cortex = MU_CORTEX * f.density
        self.parts = self._parts(ap, rt, rc)

    def bow(self, u):
        t = np.clip(np.asarray(u, dtype=np.float32) / np.float32(self.length), 0.0, 1.0)
        return (np.float32(self.bow_amp) * np.sin(np.float32(np.pi) * t)).astype(np.float32)

    def section(self, u: float) -> tuple[float, float, float, float]:
        """``(ro, co, ri, ci)`` of the tube at ``u`` (outer/inner radius and centre)."""
        ro, co, ri, ci = (float(x) for x in self.profiles(np.float32(u))[:4])
        return ro, co, ri, ci

    def surfaces(self, u: float) -> tuple[float, float]:
        """``w`` of the feature-side and opposite outer surfaces at ``u``."""
        ro, co, _, _ = self.section(u)
        return co + ro, co - ro

    def mu_trabecular(self, u):
        return self.profiles(u)[5]

    def _parts(self, ap: bool, rt: float, rc: float) -> tuple:
        f, L = self.femur, self.length
        rh, uh, R0 = f.head_radius, self.u_head, f.shaft_radius
        def co(u):
            return self.section(u)[1]
        def ro(u):
            return self.section(u)[0]
        if ap:
            wh = -f.head_offset
            return (
                Blob("prox", uh, wh, rh, rh, rh, 1.6),
                Rod("prox", uh, wh, self.u_neck + 8.0, co(self.u_neck), 0.8 * rh, 2.2, 1.0),
                Blob("prox", uh + 30.0, co(uh + 40.0) + R0 - 4.0, 26.0, 16.0, 22.0, 1.4),
                Blob("prox", self.u_lesser, co(self.u_lesser) - ro(self.u_lesser) + 3.0,
                     12.0, 7.0, 11.0, 1.4),
                Blob("dist", L - 22.0, co(L - 22.0) + (rc - 17.0), 22.0, 18.0, 27.0, 1.5),
                Blob("dist", L - 21.0, co(L - 22.0) - (rc - 17.0), 23.0, 18.5, 27.0, 1.5),
            )
        wh = 0.18 * f.head_offset
        return (
            Blob("prox", uh, wh, rh, rh, rh, 1.6),
            Blob("prox", uh + 30.0, -0.35 * rt, 24.0, 15.0, 22.0, 1.4),
            Blob("prox", self.u_lesser, co(self.u_lesser) - ro(self.u_lesser) + 2.0,
                 10.0, 6.0, 10.0, 1.4),
            Blob("dist", L - 25.0, co(L - 25.0) - 0.15 * rc, 25.0, 0.75 * rc, 38.0, 1.5),
            Blob("dist", L - 22.0, co(L - 22.0) - 0.15 * rc - 4.0, 23.0, 0.7 * rc, 26.0, 1.5),
        )

    def tube(self, u, w):
        ro, co, ri, ci, depth = self.profiles(u, 5)
        outer = (2.0 * depth) * _sqrt_pos(ro * ro - (w - co) ** 2)
        inner = (2.0 * depth) * _sqrt_pos(ri * ri - (w - ci) ** 2)
        return outer, inner

    def tube_into(self, outer, inner, mut, u, w, block: int = 64) -> None:
        """Fill full-image chords and trabecular mu, row block by row block, only in the
        columns the tube can reach (most of an image is soft tissue and air)."""
        for r0 in range(0, u.shape[0], block):
            rs = slice(r0, min(u.shape[0], r0 + block))
            ub, wb = u[rs], w[rs]
            i0, i1 = self.profiles.index_range(float(ub.min()), float(ub.max()))
            reach = float(self._reach[i0:i1 + 1].max()) + 1.0
            if reach <= 1.0:
                continue
            cols = np.flatnonzero((np.abs(wb) < reach).any(axis=0))
            if cols.size == 0:
                continue
            cs = slice(int(cols[0]), int(cols[-1]) + 1)
            ro, co, ri, ci, depth, mu = self.profiles(ub[:, cs])
            wc = wb[:, cs]
            outer[rs, cs] = (2.0 * depth) * _sqrt_pos(ro * ro - (wc - co) ** 2)
            inner[rs, cs] = (2.0 * depth) * _sqrt_pos(ri * ri - (wc - ci) ** 2)
            mut[rs, cs] = mu

    def chords(self, u, w):
        """Outer and inner chord lengths at arbitrary points (tube and every part)."""
        outer, inner = self.tube(u, w)
        u0, u1, w0, w1 = float(u.min()), float(u.max()), float(w.min()), float(w.max())
        for part in self.parts:
            b = part.bbox()
            if b[0] > u1 or b[1] < u0 or b[2] > w1 or b[3] < w0:
                continue
            o, i = part.chords(u, w)
            np.maximum(outer, o, out=outer)
            np.maximum(inner, i, out=inner)
        return outer, inner

    def chords_into(self, outer, inner, mut, u, w, place) -> None:
        """Add the parts to full-image chords, each only inside its own pixel window.

        ``place(piece, (u0, u1, w0, w1))`` returns the pixel window of a bbox of the
        given fragment, or None.
        """
        for part in self.parts:
            sl = place(part.piece, part.bbox())
            if sl is None:
                continue
            o, i = part.chords(u[sl], w[sl])
            np.maximum(outer[sl], o, out=outer[sl])
            np.maximum(inner[sl], i, out=inner[sl])
            mut[sl] = self.mu_trabecular(u[sl])
