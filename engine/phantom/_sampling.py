"""The study plan: patients, their images and every random choice, before any pixel.

Each patient draws from its own ``SeedSequence(seed, spawn_key=(1, k))`` so a plan does
not depend on worker count, and rendering draws from ``(2, k, i)``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from engine.phantom._anatomy_sampling import contralateral, for_view, sample_femur, sample_fracture
from engine.phantom._config import PhantomConfig
from engine.phantom._layout import build_scene, geometry
from engine.phantom._specs import Acquisition, ImageSpec, PatientPlan

IMAGE_COUNT_P = (0.08, 0.17, 0.2, 0.25, 0.15, 0.15)       # 1..6 images, mean ~3.7
SYNTAX_WEIGHTS = {"explicit": 0.45, "implicit": 0.1, "rle": 0.25, "jpeg2000": 0.2}
RESCALES = ((1.0, 0.0), (1.0, -1024.0), (0.5, 0.0), (2.0, -100.0))
_FIRST_DAY = dt.date(2008, 1, 1).toordinal()
_LAST_DAY = dt.date(2022, 12, 31).toordinal()


def patient_id(k: int) -> str:
    return f"PH{k + 1:05d}"


def plan_study(config: PhantomConfig) -> tuple[PatientPlan, ...]:
    """Sample every patient and image of ``config`` (geometry only, no pixels)."""
    labels = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(0,)))
    n_aff = int(round(config.aff_share * config.patients))
    aff = set(labels.permutation(config.patients)[:n_aff].tolist())
    return tuple(plan_patient(config, k, "AFF" if k in aff else "NFF")
                 for k in range(config.patients))


def plan_patient(config: PhantomConfig, k: int, label: str) -> PatientPlan:
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(1, k)))
    d = config.difficulty
    n = int(rng.choice(6, p=IMAGE_COUNT_P)) + 1
    share = config.bilateral_share if label == "AFF" else config.bilateral_share / 8
    bilateral = n >= 2 and rng.random() < share
    first = "L" if rng.random() < 0.5 else "R"
    other = "R" if first == "L" else "L"
    femurs = {first: sample_femur(rng, label)}
    fractures = {first: sample_fracture(rng, label, femurs[first], d)}
    if bilateral:
        femurs[other] = contralateral(rng, femurs[first])
        fx = sample_fracture(rng, label, femurs[other], d)
        if label == "AFF" and rng.random() < 0.6:     # the second side is often incomplete
            fx = dataclasses.replace(fx, complete=False, shift=0.0, shortening=0.0,
                                     angulation_deg=0.0, spike_angle_deg=0.0,
                                     gap=min(fx.gap, 0.8))
        fractures[other] = fx
        slots = [(first, "AP"), (other, "AP"), (first, "lateral"), (other, "lateral"),
                 (first, "AP"), (other, "AP")]
    else:
        slots = [(first, "AP"), (first, "lateral")] * 3
        if rng.random() < 0.2:
            slots[0], slots[1] = slots[1], slots[0]
    views = {(side, view): for_view(rng, fractures[side], view, d)
             for side in fractures for view in ("AP", "lateral")}
    day0 = int(rng.integers(_FIRST_DAY, _LAST_DAY))
    images, seen = [], {}
    for i, (side, view) in enumerate(slots[:n]):
        repeat = seen.get((side, view), 0)
        seen[(side, view)] = repeat + 1
        day = day0 + (int(rng.integers(14, 120)) * repeat if repeat else 0)
        spec = ImageSpec(
            seed=config.seed, patient_index=k, image_index=i, patient_id=patient_id(k),
            label=label, view=view, laterality=side,
            study_date=dt.date.fromordinal(day).strftime("%Y%m%d"),
            height=config.height, width=config.width, difficulty=d,
            femur=femurs[side], fracture=views[(side, view)],
            acquisition=_placeholder(rng, config))
        images.append(_place(rng, config, spec))
    return PatientPlan(patient_id(k), label, bilateral, tuple(images))


def _placeholder(rng: np.random.Generator, config: PhantomConfig) -> Acquisition:
    d = config.difficulty
    names = list(config.transfer_syntaxes)
    weights = np.array([SYNTAX_WEIGHTS[s] for s in names])
    cr = rng.random() < 0.55
    return Acquisition(
        fov=rng.uniform(375.0, 475.0), u_top=0.0, axis_x=0.0,
        tilt_deg=float(np.clip(rng.normal(0.0, 2.0), -4.5, 4.5)),
        modality="CR" if cr else "DX",
        photometric="MONOCHROME1" if rng.random() < config.monochrome1_share else "MONOCHROME2",
        transfer_syntax=names[int(rng.choice(len(names), p=weights / weights.sum()))],
        rescale=RESCALES[int(rng.integers(len(RESCALES)))] if rng.random() < 0.25 else None,
        noise=0.010 * (0.6 + 0.8 * d) * rng.uniform(0.7, 1.4),
        blur=rng.uniform(0.10, 0.25) + 0.12 * d,
        drc=rng.uniform(0.7, 0.9), drc_scale=rng.uniform(30.0, 60.0),
        edge=rng.uniform(0.0, 0.7) if rng.random() < 0.7 else 0.0,
        gamma=rng.uniform(1.25, 1.8), gain=rng.uniform(0.8, 0.97) * (1.0 - 0.15 * d),
        offset=rng.uniform(0.02, 0.1),
        collimation=(0.0, 0.0, 0.0, 0.0), collimation_deg=0.0,
        shutter="black" if rng.random() < 0.45 else "bright",
        marker=(0.0, 0.0), marker_size=rng.uniform(12.0, 18.0), ruler=-1.0,
        implant="none", implant_at=0.0)


def _place(rng: np.random.Generator, config: PhantomConfig, spec: ImageSpec) -> ImageSpec:
    """Position the femur so the ROI is well inside, then collimate, mark and equip."""
    a = spec.acquisition
    fov, s = a.fov, a.fov / spec.height
    width_mm = spec.width * s
    scene = build_scene(dataclasses.replace(spec, acquisition=dataclasses.replace(
        a, u_top=0.0, axis_x=width_mm / 2)))
    model, L = scene.model, scene.model.length
    pts = scene.fracture.roi_points()
    ru0, ru1 = float(pts[:, 0].min()), float(pts[:, 0].max())
    u_top = 0.5 * (ru0 + ru1) - rng.uniform(0.25, 0.75) * fov
    u_top = float(np.clip(u_top, -70.0, L + 110.0 - fov))
    u_top = float(np.clip(u_top, ru1 + 0.06 * fov - fov, ru0 - 0.06 * fov))
    axis_x = width_mm * (0.5 + spec.feature_side * rng.uniform(0.0, 0.1))
    a = dataclasses.replace(a, u_top=u_top, axis_x=axis_x)
    spec = dataclasses.replace(spec, acquisition=a)
    roi = geometry(build_scene(spec)).roi
    m = 8.0 / s
    dx = max(0.0, m - roi[0]) - max(0.0, roi[2] - (spec.width - m))
    if dx:
        a = dataclasses.replace(a, axis_x=axis_x + dx * s)
        spec = dataclasses.replace(spec, acquisition=a)
        roi = geometry(build_scene(spec)).roi
    x0, y0, x1, y1 = (v * s for v in roi)          # ROI in mm
    height_mm = fov
    slack = 8.0
    reach = 2.2 * spec.femur.shaft_radius + 12.0 + model.bow_amp
    tilt = np.sin(np.radians(a.tilt_deg)) * height_mm
    ax = (a.axis_x, a.axis_x + tilt)
    room_left = min(x0 - slack, min(ax) - reach)
    room_right = min(width_mm - x1 - slack, width_mm - max(ax) - reach)

    def inset(room: float, cap: float, p: float) -> float:
        hit = rng.random() < p
        return float(rng.uniform(0.0, max(0.0, min(room, cap)))) if hit else 0.0

    left = inset(room_left, 0.16 * width_mm, 0.75)
    right = inset(room_right, 0.16 * width_mm, 0.75)
    top = inset(y0 - slack, 0.06 * height_mm, 0.5)
    bottom = inset(height_mm - y1 - slack, 0.06 * height_mm, 0.5)
    rot = rng.uniform(-1.5, 1.5) if rng.random() < 0.4 else 0.0
    ruler = -1.0
    if rng.random() < config.ruler_share:
        if spec.feature_side > 0:
            rx = left + rng.uniform(5.0, 20.0)
        else:
            rx = width_mm - right - 12.0 - rng.uniform(5.0, 20.0)
        if rx + 12.0 < x0 - 2.0 or rx > x1 + 2.0:
            ruler = rx
    size = a.marker_size
    corners = [(left + 6.0, top + 6.0), (width_mm - right - 6.0 - size, top + 6.0),
               (left + 6.0, height_mm - bottom - 6.0 - size),
               (width_mm - right - 6.0 - size, height_mm - bottom - 6.0 - size)]
    order = rng.permutation(4)
    marker = corners[int(order[0])]
    for j in order:
        mx, my = corners[int(j)]
        clear_roi = mx > x1 + 5 or mx + size < x0 - 5 or my > y1 + 5 or my + size < y0 - 5
        clear_ruler = ruler < 0 or mx > ruler + 14.0 or mx + size < ruler - 2.0
        if clear_roi and clear_ruler:
            marker = (mx, my)
            break
    implant, implant_at = "none", 0.0
    if rng.random() < config.implant_share:
        if u_top < model.u_neck and rng.random() < 0.5:
            implant = "screws"
        else:
            options = []
            lo, hi = max(model.u_shaft - 10.0, u_top + 10.0), min(model.u_flare + 40.0,
                                                                 u_top + fov - 10.0)
            if ru0 - 45.0 - 110.0 >= lo:
                options.append(rng.uniform(lo, ru0 - 45.0 - 110.0))
            if ru1 + 45.0 + 110.0 <= hi:
                options.append(rng.uniform(ru1 + 45.0, hi - 110.0))
            if options:
                implant, implant_at = "plate", float(options[int(rng.integers(len(options)))])
    a = dataclasses.replace(a, collimation=(left, top, right, bottom), collimation_deg=rot,
                            marker=marker, ruler=ruler, implant=implant, implant_at=implant_at)
    return dataclasses.replace(spec, acquisition=a)
