"""The other femur of the same fracture: an image spec's left-right twin.

A right femur's radiograph mirrored is what the same fracture in a left femur looks like
(docs/phantom.md, Conventions). :func:`mirrored` gives that twin as a spec, so
``render_image(mirrored(spec))`` is ``render_image(spec)`` flipped left-right, up to the
resampling of the coarse soft-tissue grid and the lead letter (it names the new side).
The renderer draws the random fields of left femurs mirrored for exactly this reason.
"""

from __future__ import annotations

import dataclasses

from engine.phantom._placement import RULER_WIDTH
from engine.phantom._specs import ImageSpec


def mirrored(spec: ImageSpec) -> ImageSpec:
    """``spec`` for the other side: laterality swapped, the acquisition mirrored about the
    image's vertical centre line (femur axis and tilt, collimation, marker and ruler)."""
    a = spec.acquisition
    w = spec.width * spec.spacing
    left, top, right, bottom = a.collimation
    acq = dataclasses.replace(
        a, axis_x=w - a.axis_x, tilt_deg=-a.tilt_deg, collimation=(right, top, left, bottom),
        collimation_deg=-a.collimation_deg, marker=(w - a.marker[0] - a.marker_size, a.marker[1]),
        ruler=(w - a.ruler - RULER_WIDTH) if a.ruler >= 0 else a.ruler)
    return dataclasses.replace(spec, laterality="L" if spec.laterality == "R" else "R", acquisition=acq)
