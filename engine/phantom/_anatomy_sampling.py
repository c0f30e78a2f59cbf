"""Random femurs and fractures, following the ASBMR features of AFF versus typical NFF."""

from __future__ import annotations

import dataclasses

import numpy as np

from engine.phantom._femur import FemurModel
from engine.phantom._specs import Femur, Fracture


def aff_max_angle(difficulty: float) -> float:
    """The steepest AFF main line (degrees from transverse) at this difficulty."""
    return 8.0 + 10.0 * difficulty


NFF_MIN_ANGLE = 15.0

# confounds="none": one label-independent law for everything seen outside the ROI
STILL_SHARE = 0.4           # fractures whose distal fragment does not move at all


def sample_femur(rng: np.random.Generator, label: str, confounds: str = "realistic") -> Femur:
    """One femur; under ``confounds="none"`` every label gets the NFF (baseline) anatomy."""
    aff = label == "AFF" and confounds == "realistic"
    r0 = rng.uniform(12.0, 15.5)
    cortex = float(np.clip(rng.normal(5.6, 0.8) + (0.6 if aff else 0.0), 3.8, 0.6 * r0))
    return Femur(
        length=rng.uniform(400.0, 480.0),
        shaft_radius=r0,
        cortex=cortex,
        lateral_excess=rng.uniform(0.0, 1.0) + (rng.uniform(0.0, 0.8) if aff else 0.0),
        head_radius=rng.uniform(21.0, 26.0),
        head_offset=rng.uniform(38.0, 48.0),
        neck_angle=rng.uniform(122.0, 138.0),
        bow=rng.uniform(2.0, 8.0) + (rng.uniform(0.0, 3.0) if aff else 0.0),
        density=rng.uniform(0.85, 1.1),
        thigh=rng.uniform(62.0, 95.0),
        fat=rng.uniform(8.0, 36.0),
        joint_gap=rng.uniform(4.0, 7.0),
    )


def contralateral(rng: np.random.Generator, femur: Femur) -> Femur:
    """The other femur of the same patient: nearly the same bone."""
    return dataclasses.replace(
        femur,
        length=femur.length + rng.uniform(-4.0, 4.0),
        shaft_radius=femur.shaft_radius * rng.uniform(0.97, 1.03),
        cortex=femur.cortex * rng.uniform(0.95, 1.05),
        bow=femur.bow * rng.uniform(0.85, 1.15),
    )


def _sign(rng: np.random.Generator) -> int:
    return 1 if rng.random() < 0.5 else -1


def neutral_motion(rng: np.random.Generator, femur: Femur) -> tuple[float, float, float]:
    """``(shift, shortening, angulation_deg)`` of the distal fragment, the same law for
    both labels: still (all zero) in ``STILL_SHARE``, otherwise between the AFF and NFF
    ranges of the realistic phantom."""
    if rng.random() < STILL_SHARE:
        return 0.0, 0.0, 0.0
    return (_sign(rng) * 2 * femur.shaft_radius * rng.uniform(0.05, 0.8),
            rng.uniform(-14.0, 1.0), _sign(rng) * rng.uniform(0.0, 10.0))


def neutral_level(rng: np.random.Generator, femur: Femur) -> float:
    """The fracture level for either label: the shaft between both realistic ranges."""
    model = FemurModel(femur, "AP")
    lo, hi = model.u_shaft + 5.0, model.u_flare - 15.0
    return lo + (hi - lo) * rng.beta(1.5, 1.8)


def swelling(fx: Fracture) -> float:
    """Soft-tissue swelling (mm) at the fracture: realistic only at complete fractures."""
    if fx.swelling is not None:
        return fx.swelling
    return 4.0 + 0.3 * abs(fx.shift) if fx.complete else 0.0


def sample_fracture(rng: np.random.Generator, label: str, femur: Femur,
                    difficulty: float, confounds: str = "realistic") -> Fracture:
    """A fracture as seen in the AP view (see :func:`for_view` for the lateral view).

    Under ``confounds="none"`` the ROI content (line, beak, completeness, comminution)
    still follows the label, but level, displacement and swelling come from
    :func:`neutral_level` and :func:`neutral_motion` for both labels; an AFF is
    incomplete only when its fragment is still, as often overall as in realistic.
    """
    if confounds == "none":
        level = neutral_level(rng, femur)
        shift, shortening, angulation = neutral_motion(rng, femur)
        still = shift == shortening == angulation == 0.0
        p_incomplete = min(1.0, (0.15 + 0.2 * difficulty) / STILL_SHARE)
        complete = not (label == "AFF" and still and rng.random() < p_incomplete)
        fx = _sample_fracture(rng, label, femur, difficulty, complete)
        return dataclasses.replace(
            fx, level=level, shift=shift, shortening=shortening, angulation_deg=angulation,
            swelling=4.0 + 0.3 * abs(shift))
    return _sample_fracture(rng, label, femur, difficulty)


def _sample_fracture(rng: np.random.Generator, label: str, femur: Femur, difficulty: float,
                     complete: bool | None = None) -> Fracture:
    """The realistic draw; ``complete`` given overrides (without consuming) its draw."""
    d = difficulty
    model = FemurModel(femur, "AP")
    r0, c = femur.shaft_radius, femur.cortex
    if label == "AFF":
        lo, hi = model.u_shaft - 8.0, model.u_flare - 15.0
        level = lo + (hi - lo) * rng.beta(1.4, 2.6)
        if complete is None:
            complete = bool(rng.random() >= 0.15 + 0.2 * d)
        if rng.random() < 0.08 + 0.2 * d:
            beak = rng.uniform(0.25, 0.8)            # the subtle ones
        else:
            beak = 0.7 + (4.2 - 2.8 * d) * rng.beta(2.0, 2.2)
        endosteal = beak * rng.uniform(0.3, 0.9)
        spike = complete and rng.random() < 0.75
        displaced = complete and rng.random() < 0.6
        return Fracture(
            label="AFF", kind="transverse", level=level,
            angle_deg=aff_max_angle(d) * rng.beta(1.3, 2.6), slope=_sign(rng),
            complete=complete,
            crack_depth=(c + femur.lateral_excess / 2 + beak + endosteal) * rng.uniform(0.8, 1.4),
            gap=rng.uniform(0.5, 2.0) if complete else rng.uniform(0.3, 0.9) * (1 - 0.3 * d),
            curvature=0.0,
            spike_angle_deg=rng.uniform(30.0, 55.0) if spike else 0.0,
            spike_start=c * rng.uniform(0.8, 2.0), spike_slope=_sign(rng),
            beak=beak, endosteal=endosteal, beak_length=rng.uniform(5.0, 13.0),
            shift=(_sign(rng) * 2 * r0 * rng.uniform(0.05, 0.5) if displaced
                   else rng.uniform(-1.0, 1.0) * complete),
            shortening=rng.uniform(-6.0, 1.0) if complete else 0.0,
            angulation_deg=_sign(rng) * rng.uniform(0.0, 7.0) if complete else 0.0,
            butterfly=0.0, butterfly_side=1, butterfly_shift=0.0, chips=(),
        )
    lo, hi = model.u_shaft + 5.0, model.u_flare + 20.0
    level = lo + (hi - lo) * rng.beta(1.6, 1.6)
    r = rng.random()
    curvature = 0.0
    if r < 0.05 + 0.25 * d:
        kind, angle = "comminuted", rng.uniform(NFF_MIN_ANGLE, 30.0)
    elif r < 0.6:
        kind, angle = "oblique", rng.uniform(30.0, 60.0)
    else:
        kind, angle = "spiral", rng.uniform(35.0, 62.0)
        curvature = _sign(rng) * rng.uniform(0.004, 0.012)
    butterfly = rng.random() < (0.7 if kind == "comminuted" else 0.45 - 0.15 * d)
    n_chips = int(rng.poisson(max(0.2, 0.8 - 0.3 * d)))
    if kind == "comminuted" and not butterfly:
        n_chips = max(n_chips, 2)
    chips = []
    for _ in range(min(n_chips, 5)):
        s = _sign(rng)
        w = s * (r0 + rng.uniform(-4.0, 6.0))
        chips.append((float(rng.uniform(-8.0, 8.0)), float(w), float(rng.uniform(1.2, 3.5))))
    small = rng.random() < 0.08 + 0.15 * d
    scale = 1.0 - 0.35 * d
    return Fracture(
        label="NFF", kind=kind, level=level, angle_deg=angle, slope=_sign(rng),
        complete=True, crack_depth=0.0, gap=rng.uniform(0.8, 3.0), curvature=curvature,
        spike_angle_deg=0.0, spike_start=0.0, spike_slope=1,
        beak=0.0, endosteal=0.0, beak_length=8.0,
        shift=_sign(rng) * (rng.uniform(0.0, 2.0) if small
                            else 2 * r0 * rng.uniform(0.1, 1.1) * scale),
        shortening=rng.uniform(-3.0, 1.0) if small else rng.uniform(-22.0, 2.0) * scale,
        angulation_deg=_sign(rng) * rng.uniform(0.0, 4.0 if small else 14.0),
        butterfly=rng.uniform(15.0, 40.0) if butterfly else 0.0,
        butterfly_side=_sign(rng), butterfly_shift=rng.uniform(1.5, 8.0) if butterfly else 0.0,
        chips=tuple(chips),
    )


def for_view(rng: np.random.Generator, fx: Fracture, view: str, difficulty: float,
             confounds: str = "realistic") -> Fracture:
    """The same fracture in another projection: same level and type, its own angle,
    displacement and (for AFF) a smaller anterolateral beak. Under ``confounds="none"``
    the displacement changes by the same law for both labels."""
    if view == "AP":
        return fx
    if confounds == "none":
        shift, angulation = rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)
        seen = for_view(rng, fx, view, difficulty)
        return dataclasses.replace(seen, shift=fx.shift * shift,
                                   angulation_deg=fx.angulation_deg * angulation)
    if fx.label == "AFF":
        angle = float(np.clip(fx.angle_deg + rng.normal(0.0, 1.5), 0.0,
                              aff_max_angle(difficulty)))
        beak = fx.beak * rng.uniform(0.6, 0.9)
        return dataclasses.replace(
            fx, angle_deg=angle, beak=beak, endosteal=fx.endosteal * beak / fx.beak,
            shift=fx.shift * rng.uniform(-0.8, 0.8),
            angulation_deg=fx.angulation_deg * rng.uniform(-1.0, 1.0))
    lo = max(NFF_MIN_ANGLE, 0.55 * fx.angle_deg)
    angle = rng.uniform(lo, fx.angle_deg) if fx.kind != "spiral" else float(
        np.clip(fx.angle_deg + rng.normal(0.0, 5.0), 30.0, 65.0))
    return dataclasses.replace(
        fx, angle_deg=angle, shift=fx.shift * rng.uniform(-1.0, 1.0),
        angulation_deg=fx.angulation_deg * rng.uniform(-1.0, 1.0),
        butterfly_side=_sign(rng),
        chips=tuple((du, -w if rng.random() < 0.5 else w, r) for du, w, r in fx.chips))

