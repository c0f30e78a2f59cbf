"""A contact sheet of rendered images with their ROI boxes (for docs and quick looks)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from engine.phantom._render import PhantomImage

_COLOURS = {"AFF": (255, 64, 64), "NFF": (64, 200, 255)}


def _rgb(image: PhantomImage) -> Image.Image:
    return Image.fromarray((image.pixels >> 4).astype(np.uint8)).convert("RGB")


def contact_sheet(images: list[PhantomImage], columns: int = 4, width: int = 256,
                  zoom_mm: float = 90.0) -> Image.Image:
    """Each image scaled to ``width`` with its ROI, and under it a ``zoom_mm`` close-up of
    the fracture; AFF boxes red, NFF blue; the caption gives label, view, side, angle."""
    height = int(round(width * images[0].spec.height / images[0].spec.width))
    cell_h = height + width + 18
    rows = -(-len(images) // columns)
    sheet = Image.new("RGB", (columns * width, rows * cell_h), (0, 0, 0))
    draw = ImageDraw.Draw(sheet)
    for k, image in enumerate(images):
        x, y = (k % columns) * width, (k // columns) * cell_h
        spec, (x0, y0, x1, y1) = image.spec, image.geometry.roi
        colour = _COLOURS[spec.label]
        scale = width / spec.width
        sheet.paste(_rgb(image).resize((width, height), Image.Resampling.LANCZOS), (x, y))
        draw.rectangle([x + x0 * scale, y + y0 * scale, x + x1 * scale, y + y1 * scale],
                       outline=colour, width=2)
        half = 0.5 * zoom_mm / image.geometry.spacing
        cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
        box = (cx - half, cy - half, cx + half, cy + half)
        zoom = _rgb(image).resize((width, width), Image.Resampling.LANCZOS, box=box)
        sheet.paste(zoom, (x, y + height))
        z = width / (2 * half)
        draw.rectangle([x + (x0 - box[0]) * z, y + height + (y0 - box[1]) * z,
                        x + (x1 - box[0]) * z, y + height + (y1 - box[1]) * z],
                       outline=colour, width=1)
        fx = spec.fracture
        text = (f"{spec.label} {spec.view} {spec.laterality} {fx.angle_deg:.0f}deg "
                + (f"beak {fx.beak:.1f}mm" if fx.beak else f"{fx.kind}")
                + ("" if fx.complete else " incomplete"))
        draw.text((x + 4, y + height + width + 3), text, fill=colour)
    return sheet
