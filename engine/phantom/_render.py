"""Rendering one image: the scene's attenuation, then :func:`expose`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.phantom._acquire import MAX_VALUE, collimation_mask, expose
from engine.phantom._femur import MU_MUSCLE
from engine.phantom._filters import enlarge, smooth_noise
from engine.phantom._frame import Frame, box_corners
from engine.phantom._hardware import implant_into, marker_into, ruler_into
from engine.phantom._layout import ImageGeometry, Scene, build_scene, geometry
from engine.phantom._shortcut import stamp
from engine.phantom._skeleton import Skeleton
from engine.phantom._specs import ImageSpec

RENDER_KEY = 2
BACKGROUND_MM = 1.0         # grid of the smooth parts (soft tissue, pelvis, collimator)


@dataclass(frozen=True)
class PhantomImage:
    """One rendered image: 12-bit pixels in display convention (bone bright) + truth."""

    pixels: np.ndarray                 # uint16 (height, width), 0..4095
    spec: ImageSpec
    geometry: ImageGeometry
    window: tuple[float, float]        # (centre, width) in display values

    def stored(self) -> np.ndarray:
        """The values a DICOM file holds: inverted for MONOCHROME1."""
        if self.spec.acquisition.photometric == "MONOCHROME1":
            return (MAX_VALUE - self.pixels).astype(np.uint16)
        return self.pixels


def image_rng(spec: ImageSpec) -> np.random.Generator:
    key = (RENDER_KEY, spec.patient_index, spec.image_index)
    return np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=key))


def _placer(scene: Scene, frame: Frame):
    """``place(piece, (u0, u1, w0, w1))``: the pixel window of a fragment's bbox."""
    model, fx = scene.model, scene.fracture

    def place(piece: str, bbox):
        u0, u1, w0, w1 = bbox
        bows = model.bow(np.array([u0, 0.5 * (u0 + u1), u1]))
        u, v = box_corners(u0, u1, w0 + float(bows.min()), w1 + float(bows.max()))
        if piece == "dist" and fx is not None and fx.fx.complete:
            u, v = fx.distal.forward(u, v)
        return frame.slices(u, v)

    return place


def attenuation(spec: ImageSpec, scene: Scene, rng: np.random.Generator):
    """Log attenuation of every pixel, and the collimator mask (None when open)."""
    frame, model, fx = scene.frame, scene.model, scene.fracture
    u, v = frame.grid()
    uu, vv = fx.piecewise(u, v) if fx is not None else (u, v)
    ww = vv - model.bow(uu)
    place = _placer(scene, frame)
    outer = np.zeros(u.shape, np.float32)
    inner = np.zeros(u.shape, np.float32)
    mut = np.full(u.shape, MU_MUSCLE, np.float32)
    model.tube_into(outer, inner, mut, uu, ww)
    model.chords_into(outer, inner, mut, uu, ww, place)
    if fx is not None:
        sl = frame.slices(*box_corners(*fx.window()))
        if sl is not None:
            outer[sl], inner[sl] = fx.composite(u[sl], v[sl])
    texture = smooth_noise(rng, u.shape, 0.6 / frame.spacing, stretch=2.5)
    mut *= 1.0 + 0.1 * texture
    att = (model.mu_cortex - MU_MUSCLE) * (outer - inner) + (mut - MU_MUSCLE) * inner
    del outer, inner, mut, texture, vv
    skeleton = Skeleton(model, spec.fracture if fx is not None else None)
    skeleton.bones_into(att, uu, ww, place)
    acq = spec.acquisition
    implant_into(att, uu, ww, model, acq, spec.fracture, place)
    # smooth parts on a coarse grid: the pelvis belongs to the proximal fragment (no motion)
    f = max(1, int(round(BACKGROUND_MM / frame.spacing)))
    coarse = frame.coarse(f) if f > 1 else frame
    cu, cv = coarse.grid() if f > 1 else (u, v)
    cw = cv - model.bow(cu)
    background = skeleton.soft_tissue(cu, cw)
    skeleton.pelvis_into(background, cu, cw, _placer(scene, coarse))
    att += enlarge(background, u.shape, f)
    mask = collimation_mask(spec, coarse)
    if mask is not None:
        mask = np.clip(enlarge(mask, u.shape, f), 0.0, 1.0)
    if acq.ruler >= 0:
        ruler_into(att, frame, acq.ruler)
    marker_into(att, frame, spec.laterality, acq.marker[0], acq.marker[1], acq.marker_size)
    return att, mask


def render_image(spec: ImageSpec, *, features: bool = True) -> PhantomImage:
    """Render ``spec``; ``features=False`` gives the same image of the intact femur
    (same noise), for measuring what the fracture and beak change."""
    rng = image_rng(spec)
    scene = build_scene(spec, features)
    att, mask = attenuation(spec, scene, rng)
    pixels, window = expose(att, spec, mask, rng)
    if spec.acquisition.site_marker is not None:
        stamp(pixels, spec.acquisition.site_marker)
    geo = geometry(scene if features else build_scene(spec))
    return PhantomImage(pixels, spec, geo, window)
