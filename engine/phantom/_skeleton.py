"""Everything around the femur: the thigh's soft tissue, pelvis, patella, tibia and fibula."""

from __future__ import annotations

import numpy as np

from engine.phantom._anatomy_sampling import swelling
from engine.phantom._femur import (
    MU_FAT,
    MU_MARROW,
    MU_MUSCLE,
    MU_TRABECULAR,
    STEP,
    Blob,
    FemurModel,
    Profiles,
    _sqrt_pos,
    smoothstep,
)
from engine.phantom._specs import Fracture


def _ellipse_chord(dw, half_width, depth):
    return (2.0 * depth) * _sqrt_pos(1.0 - (dw / half_width) ** 2)


class Skeleton:
    """The other bones (attenuation added to the femur's) and the soft-tissue envelope."""

    def __init__(self, model: FemurModel, fracture: Fracture | None):
        f, L, ap = model.femur, model.length, model.view == "AP"
        self.model, self.ap = model, ap
        rc, r0 = model.condyle_halfwidth, f.shaft_radius
        ut = self.u_tibia = L + f.joint_gap
        u = np.arange(ut - 2.0, L + 520.0, STEP)
        rtp, rts = (0.95 if ap else 0.9) * rc, 0.82 * r0
        ro = rts + (rtp - rts) * (1.0 - smoothstep(ut + 15.0, ut + 85.0, u))
        ro = ro * _sqrt_pos(1.0 - (np.maximum(ut + 5.0 - u, 0.0) / 5.0) ** 2)
        co = np.zeros_like(u) if ap else -0.12 * (ro - rts)
        cortex = 1.2 + 3.2 * smoothstep(ut + 40.0, ut + 130.0, u)
        ri = np.maximum(ro - cortex, 0.0)
        depth = 0.8 + 0.2 * smoothstep(ut + 10.0, ut + 80.0, u)
        fw = (0.76 if ap else -0.45) * rtp
        fr = 6.0 + 5.0 * (1.0 - smoothstep(ut + 18.0, ut + 60.0, u))
        fr = fr * _sqrt_pos(1.0 - (np.maximum(ut + 18.0 - u, 0.0) / 10.0) ** 2)
        self.tibia = Profiles(u[0], np.stack([ro, co, ri, depth, fr, np.maximum(fr - 1.8, 0)]))
        self.fibula_w = fw
        if ap:
            self.patella = Blob("dist", L - 40.0, model.section(L - 40.0)[1] + 3.0,
                                24.0, 21.0, 11.0, 1.4)
        else:
            ro_p, co_p, _, _ = model.section(L - 48.0)
            self.patella = Blob("dist", L - 48.0, co_p + ro_p + 11.0, 22.0, 10.0, 20.0, 1.5)
        self.mu_cortex = model.mu_cortex
        # the thigh: half width, centre and depth along u
        t = f.thigh
        u_s = np.arange(-200.0, L + 520.0, STEP)
        half = t * (1.0 + 0.45 * (1.0 - smoothstep(40.0, 180.0, u_s))
                    - 0.38 * smoothstep(0.55 * L, L - 10.0, u_s)
                    - 0.05 * smoothstep(L, L + 120.0, u_s))
        swell = swelling(fracture) if fracture is not None else 0.0
        if swell > 0:
            half = half + swell * np.exp(-(((u_s - fracture.level) / 45.0) ** 2))
        centre = (-0.22 * t * (1.0 - smoothstep(60.0, 0.8 * L, u_s)) if ap
                  else -0.12 * half)
        self.thigh = Profiles(u_s[0], np.stack([half, centre]))
        self.depth_ratio = 0.9 if ap else 1.1
        self.fat = f.fat

    # ---- soft tissue -------------------------------------------------------------------
    def soft_tissue(self, u, w):
        half, centre = self.thigh(u)
        dw = w - centre
        depth = half * np.float32(self.depth_ratio)
        total = _ellipse_chord(dw, half, depth)
        fat = np.float32(self.fat)
        muscle = _ellipse_chord(dw, np.maximum(half - fat, 1.0), np.maximum(depth - fat, 1.0))
        return (MU_FAT * (total - muscle) + MU_MUSCLE * muscle).astype(np.float32)

    # ---- other bones ---------------------------------------------------------------------
    def _bone(self, outer, inner, mu_inner=MU_TRABECULAR):
        return ((self.mu_cortex - MU_MUSCLE) * (outer - inner)
                + (mu_inner - MU_MUSCLE) * inner).astype(np.float32)

    def bones_into(self, att, u, w, place) -> None:
        """Add tibia, fibula and patella attenuation, each inside its own window."""
        L = self.model.length
        sl = place("dist", (self.u_tibia - 2.0, L + 520.0, -90.0, 90.0))
        if sl is not None:
            uu, ww = u[sl], w[sl]
            ro, co, ri, depth, fr, fri = self.tibia(uu)
            d2 = (ww - co) ** 2
            outer = 2.0 * depth * _sqrt_pos(ro * ro - d2)
            inner = 2.0 * depth * _sqrt_pos(ri * ri - d2)
            att[sl] += self._bone(outer, inner, MU_MARROW)
            fd2 = (ww - np.float32(self.fibula_w)) ** 2
            att[sl] += self._bone(2.0 * _sqrt_pos(fr * fr - fd2), 2.0 * _sqrt_pos(fri * fri - fd2))
        p = self.patella
        sl = place(p.piece, p.bbox())
        if sl is not None:
            att[sl] += self._bone(*p.chords(u[sl], w[sl]))

    def pelvis_into(self, att, u, w, place) -> None:
        """Add the acetabulum, ilium and pubic rami when the hip is in view."""
        m, f = self.model, self.model.femur
        uh, rh = m.u_head, f.head_radius
        wh = -f.head_offset if self.ap else 0.18 * f.head_offset
        sl = place("prox", (uh - 200.0, uh + rh + 70.0, wh - 220.0, wh + rh + 90.0))
        if sl is None:
            return
        du, dw = u[sl] - np.float32(uh), w[sl] - np.float32(wh)
        rho = np.sqrt(du * du + dw * dw)
        psi = np.arctan2(dw, -du)                  # 0: straight up, +: lateral
        joint = smoothstep(rh + 1.5, rh + 4.0, rho)          # the joint space, then socket
        roof = (smoothstep(rh + 2.5, rh + 3.5, rho) * (1.0 - smoothstep(rh + 5.0, rh + 7.0, rho))
                * smoothstep(-1.4, -1.0, psi) * (1.0 - smoothstep(0.7, 1.0, psi)))
        if self.ap:
            q = ((du + 75.0) / 95.0) ** 2 + ((dw + 20.0) / (rh + 60.0)) ** 2
            ilium = (1.0 - smoothstep(0.4, 1.0, q)) * joint
            q2 = ((du - (rh + 32.0)) / 36.0) ** 2 + ((dw + 18.0) / 26.0) ** 2
            pubis = (1.0 - smoothstep(0.7, 1.0, q2)) * (0.35 + 0.65 * smoothstep(0.2, 0.5, q2))
            cortical = 6.0 * roof + 4.0 * ilium + 5.0 * pubis * joint
            trabecular = 16.0 * ilium + 12.0 * pubis * joint
        else:
            q = ((du + 60.0) / 85.0) ** 2 + (dw / (rh + 55.0)) ** 2
            ilium = (1.0 - smoothstep(0.4, 1.0, q)) * joint
            cortical = 5.0 * roof + 7.0 * ilium
            trabecular = 26.0 * ilium
        att[sl] += ((self.mu_cortex - MU_MUSCLE) * cortical
                    + (MU_TRABECULAR - MU_MUSCLE) * trabecular).astype(np.float32)
