"""Faithfulness: deletion and insertion curves (Petsiuk et al. 2018) and the ROI occlusion test.

These ask the model, not the map: a map is faithful when removing the pixels it ranks
first lowers the predicted-class probability faster than removing pixels in a random
order (deletion), and revealing them first raises it faster (insertion). The ROI
occlusion test needs no map at all: it blanks the fracture ROI, and separately a box of
the same size at a random place inside the bone away from the ROI, and compares the
drops in P(true class). Their paired difference is the model's *reliance on the
fracture region*; its chance level is 0.

Fills (documented in ``docs/explain.md``):

- ROI / control / marker box: the **mean of a ring around the box** (as wide as half the
  box's shorter side), so the box takes its surroundings' brightness and loses its
  structure (a fracture line, a glyph) without adding an edge a constant would add.
- deletion: removed pixels become **black** (raw 0, as the letterbox padding);
- insertion: the canvas starts as the image **blurred** (Gaussian, sigma = input/32 px)
  and the ranked pixels are copied back in.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

DELETION_STEPS = 16


# -- boxes -----------------------------------------------------------------------------

def pixel_box(box, size: int) -> tuple[int, int, int, int] | None:
    """A float input-pixel box -> integer ``[x0, x1) x [y0, y1)`` of the pixels whose centre is inside.

    The same rule as :func:`engine.explain._roi.box_mask`; ``None`` when no pixel centre is inside.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    ix0, iy0 = max(0, math.ceil(x0 - 0.5)), max(0, math.ceil(y0 - 0.5))
    ix1, iy1 = min(size, math.ceil(x1 - 0.5)), min(size, math.ceil(y1 - 0.5))
    return (ix0, iy0, ix1, iy1) if ix1 > ix0 and iy1 > iy0 else None


def mirror_box(box: tuple[int, int, int, int], size: int) -> tuple[int, int, int, int]:
    """The box on the horizontally flipped input (runs trained in a canonical orientation)."""
    x0, y0, x1, y1 = box
    return size - x1, y0, size - x0, y1


def _ring_mean(img: torch.Tensor, box) -> torch.Tensor:
    """Per-channel mean of the ring around ``box`` in ``(C, S, S)`` ``img`` (image mean if empty)."""
    x0, y0, x1, y1 = box
    s = img.shape[-1]
    r = max(1, min(x1 - x0, y1 - y0) // 2)
    X0, Y0, X1, Y1 = max(0, x0 - r), max(0, y0 - r), min(s, x1 + r), min(s, y1 + r)
    outer = img[:, Y0:Y1, X0:X1]
    n_outer = outer.shape[1] * outer.shape[2]
    n_inner = (y1 - y0) * (x1 - x0)
    if n_outer <= n_inner:
        return img.mean(dim=(1, 2))
    total = outer.sum(dim=(1, 2)) - img[:, y0:y1, x0:x1].sum(dim=(1, 2))
    return total / (n_outer - n_inner)


def fill_boxes(images: torch.Tensor, boxes) -> torch.Tensor:
    """A copy of ``(B, C, S, S)`` ``images`` with each image's box (or ``None``) set to its ring mean."""
    out = images.clone()
    for k, box in enumerate(boxes):
        if box is None:
            continue
        x0, y0, x1, y1 = box
        out[k, :, y0:y1, x0:x1] = _ring_mean(images[k], box)[:, None, None]
    return out


def otsu_threshold(values: np.ndarray) -> float:
    """Otsu's threshold of a 1-D array of intensities (256 bins)."""
    v = np.asarray(values, np.float64).ravel()
    if v.size == 0 or v.min() == v.max():
        return float(v.max()) if v.size else 0.0
    hist, edges = np.histogram(v, 256)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mu0 = m0 / np.maximum(w0, 1)
    mu1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mu0 - mu1) ** 2
    return float(centres[int(np.argmax(between[:-1]))])


def bone_mask(pixels: np.ndarray) -> np.ndarray:
    """``(S, S)`` bool: pixels brighter than Otsu's threshold of the non-padding pixels.

    Bone is the bright class of a radiograph; the letterbox padding (exact 0) is left out
    of the threshold, so a small image on a large square still splits into soft tissue and
    bone rather than image and padding.
    """
    p = np.asarray(pixels, np.float64)
    inside = p[p > 0]
    if inside.size == 0:
        return np.zeros(p.shape, bool)
    return p > otsu_threshold(inside)


def random_box_away(bone: np.ndarray, avoid, width: int, height: int, rng: np.random.Generator,
                    min_bone: float = 0.5) -> tuple[int, int, int, int] | None:
    """A ``width x height`` box placed uniformly where at least ``min_bone`` of it is bone and it
    keeps a gap of half its size from every box in ``avoid``; ``None`` when there is no such place.
    """
    s = bone.shape[0]
    if width > s or height > s:
        return None
    integral = np.pad(bone.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    ys, xs = np.mgrid[0:s - height + 1, 0:s - width + 1]
    inside = (integral[ys + height, xs + width] - integral[ys, xs + width]
              - integral[ys + height, xs] + integral[ys, xs])
    ok = inside >= min_bone * width * height
    gx, gy = max(1, width // 2), max(1, height // 2)
    for box in avoid:
        if box is None:
            continue
        ax0, ay0, ax1, ay1 = box
        # Overlap of [x, x + w) with [ax0 - gx, ax1 + gx), likewise in y.
        ok &= ~((xs < ax1 + gx) & (xs + width > ax0 - gx) & (ys < ay1 + gy) & (ys + height > ay0 - gy))
    cand = np.flatnonzero(ok)
    if cand.size == 0:
        return None
    k = int(cand[rng.integers(cand.size)])
    y, x = int(ys.flat[k]), int(xs.flat[k])
    return x, y, x + width, y + height


# -- model probes ---------------------------------------------------------------------

@torch.no_grad()
def class_probability(model, images: torch.Tensor, classes, batch_size: int = 64) -> np.ndarray:
    """P(class) per image of a normalised batch, for the given class per image."""
    out = []
    cls = torch.as_tensor(np.asarray(classes, np.int64))
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        p = torch.softmax(model(x).float(), 1).cpu()
        out.append(p.gather(1, cls[start:start + len(x), None])[:, 0].numpy())
    return np.concatenate(out) if out else np.zeros(0)


def box_drops(model, images: torch.Tensor, classes, boxes, batch_size: int = 64) -> np.ndarray:
    """Drop in P(class) when each image's box is filled (NaN where the box is ``None``)."""
    base = class_probability(model, images, classes, batch_size)
    filled = class_probability(model, fill_boxes(images, boxes), classes, batch_size)
    drop = base - filled
    return np.where([b is None for b in boxes], np.nan, drop)


def reliance(model, pixels: np.ndarray, images: torch.Tensor, labels, roi_boxes, seed: int = 0,
             regions: dict | None = None, batch_size: int = 64) -> dict[str, np.ndarray]:
    """The ROI occlusion test for one batch of images.

    ``pixels`` is the uint8 ``(N, S, S)`` input (for the bone mask), ``images`` the same
    normalised ``(N, C, S, S)``, ``labels`` the true class, ``roi_boxes`` integer input
    boxes (``None``: no ROI). For each image: ``drop_roi`` (ROI filled), ``drop_control``
    (a same-size box inside the bone away from the ROI), ``reliance = drop_roi -
    drop_control``. ``regions`` (name -> boxes, e.g. the site marker) get the same test,
    with their own control boxes placed away from both the ROI and the region.
    """
    rng = np.random.default_rng(seed)
    n = len(images)
    bones = [bone_mask(p) for p in pixels]
    out: dict[str, np.ndarray] = {}

    def controls(boxes, avoid_extra):
        ctl = []
        for k in range(n):
            b = boxes[k]
            if b is None:
                ctl.append(None)
                continue
            avoid = [roi_boxes[k], b] + [a[k] for a in avoid_extra]
            ctl.append(random_box_away(bones[k], avoid, b[2] - b[0], b[3] - b[1], rng))
        return ctl

    named = {"roi": list(roi_boxes), **{k: list(v) for k, v in (regions or {}).items()}}
    others = list((regions or {}).values())
    for name, boxes in named.items():
        ctl = controls(boxes, others if name == "roi" else [])
        ctl_drop = box_drops(model, images, labels, ctl, batch_size)
        drop = box_drops(model, images, labels, [b if c is not None else None
                                                 for b, c in zip(boxes, ctl)], batch_size)
        out[f"drop_{name}"] = drop
        out[f"drop_{name}_control"] = ctl_drop
        out[f"reliance_{name}"] = drop - ctl_drop
        out[f"area_{name}"] = np.array([np.nan if b is None else (b[2] - b[0]) * (b[3] - b[1])
                                        for b in boxes], np.float64) / float(pixels.shape[-1] ** 2)
    out["p_true"] = class_probability(model, images, labels, batch_size)
    return out


# -- deletion / insertion ---------------------------------------------------------------

def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(B, C, S, S)`` with reflect padding."""
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = images.shape[1]
    x = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def curve_auc(curves: np.ndarray) -> np.ndarray:
    """Area under each ``(N, steps + 1)`` curve over fractions 0..1 (trapezoids)."""
    c = np.asarray(curves, np.float64)
    steps = c.shape[1] - 1
    return (c[:, 1:] + c[:, :-1]).sum(1) / (2 * steps)


def pixel_order(maps: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``(N, S*S)`` pixel indices, highest map value first (ties in random order)."""
    from engine.explain._measures import upsample

    up = upsample(np.asarray(maps, np.float32), size).reshape(len(maps), -1)
    jitter = rng.random(up.shape)  # secondary key: breaks ties at random
    return np.lexsort((jitter, -up), axis=1)


@torch.no_grad()
def deletion_insertion(model, images: torch.Tensor, orders: np.ndarray, black: float,
                       steps: int = DELETION_STEPS, classes=None, batch_size: int = 64) -> dict:
    """Deletion and insertion curves ``(N, steps + 1)`` for the given pixel orders.

    Step ``k`` removes (deletion: to ``black``) or reveals (insertion: onto the blurred
    image) the first ``round(k / steps * S^2)`` pixels of each image's order and records
    P(class), the class predicted on the intact image unless ``classes`` is given. So the
    deletion curve starts at P(class | image) and the insertion curve ends there.
    """
    n, c, s, _ = images.shape
    if classes is None:
        classes = torch.cat([model(images[i:i + batch_size]).argmax(1).cpu()
                             for i in range(0, n, batch_size)]).numpy() if n else np.zeros(0, int)
    blurred = gaussian_blur(images, max(1.0, s / 32))
    flat, blur_flat = images.reshape(n, c, -1), blurred.reshape(n, c, -1)
    rank = np.empty_like(orders)
    np.put_along_axis(rank, orders, np.arange(s * s)[None, :].repeat(n, 0), axis=1)
    rank_t = torch.as_tensor(rank, device=images.device)
    deletion, insertion = np.zeros((n, steps + 1)), np.zeros((n, steps + 1))
    for k in range(steps + 1):
        count = int(round(k / steps * s * s))
        chosen = (rank_t < count)[:, None, :]
        deleted = torch.where(chosen, torch.full_like(flat, black), flat).reshape(n, c, s, s)
        inserted = torch.where(chosen, flat, blur_flat).reshape(n, c, s, s)
        deletion[:, k] = class_probability(model, deleted, classes, batch_size)
        insertion[:, k] = class_probability(model, inserted, classes, batch_size)
    return {"deletion": deletion, "insertion": insertion, "classes": np.asarray(classes)}


def faithfulness(model, images: torch.Tensor, maps: np.ndarray, black: float, steps: int = DELETION_STEPS,
                 seed: int = 0, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Deletion/insertion curves in map order and in a random order, and their areas.

    Rows of all-zero maps (no positive evidence) are NaN: such a map ranks nothing, so its
    curve would only repeat the random baseline and is never counted as evidence.
    """
    rng = np.random.default_rng(seed)
    s = images.shape[-1]
    by_map = deletion_insertion(model, images, pixel_order(maps, s, rng), black, steps,
                                batch_size=batch_size)
    random_order = np.argsort(rng.random((len(images), s * s)), axis=1)
    by_chance = deletion_insertion(model, images, random_order, black, steps, by_map["classes"],
                                   batch_size)
    blank = ~(np.asarray(maps, np.float32).reshape(len(maps), -1) > 0).any(1)
    out = {}
    for name, curves in (("deletion", by_map["deletion"]), ("insertion", by_map["insertion"]),
                         ("deletion_random", by_chance["deletion"]),
                         ("insertion_random", by_chance["insertion"])):
        curves = curves.copy()
        if not name.endswith("_random"):
            curves[blank] = np.nan
        out[name] = curves.astype(np.float32)
        out[f"{name}_auc"] = curve_auc(curves)
    return out
