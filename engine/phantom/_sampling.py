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
from engine.phantom._placement import place
from engine.phantom._shortcut import plant
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
    plans = tuple(plan_patient(config, k, "AFF" if k in aff else "NFF")
                  for k in range(config.patients))
    return plant(config, plans)


def plan_patient(config: PhantomConfig, k: int, label: str) -> PatientPlan:
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(1, k)))
    d, confounds = config.difficulty, config.confounds
    n = int(rng.choice(6, p=IMAGE_COUNT_P)) + 1
    share = config.bilateral_share if label == "AFF" else config.bilateral_share / 8
    if confounds == "none":     # one share for both labels, about the realistic total
        share = config.bilateral_share * (config.aff_share + (1 - config.aff_share) / 8)
    bilateral = n >= 2 and rng.random() < share
    first = "L" if rng.random() < 0.5 else "R"
    other = "R" if first == "L" else "L"
    femurs = {first: sample_femur(rng, label, confounds)}
    fractures = {first: sample_fracture(rng, label, femurs[first], d, confounds)}
    if bilateral:
        femurs[other] = contralateral(rng, femurs[first])
        fx = sample_fracture(rng, label, femurs[other], d, confounds)
        if confounds == "none":
            pass        # incomplete only where still: sample_fracture already decided
        elif label == "AFF" and rng.random() < 0.6:     # the second side is often incomplete
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
    views = {(side, view): for_view(rng, fractures[side], view, d, confounds)
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
        images.append(place(rng, config, spec))
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

