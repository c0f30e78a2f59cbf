"""The report's explainability section: ROI measures, map agreement, an overlay gallery, question 3.

Everything here comes from heatmaps that ``affengine explain`` wrote (``<run>/heatmaps/<method>.npz``);
without them the section is absent and the report only says how to make them.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np

from engine.evaluate import format_p

if TYPE_CHECKING:
    from engine.store import Project

QUESTION = "Do CNNs and ViTs use different areas?"
HINT = ("No heatmaps for these experiments: run `affengine explain PROJECT --experiment E` for each "
        "experiment, then build the report again to add ROI energy, pointing game, map agreement and "
        "an overlay gallery.")
_STATS = ("mean", "low", "high", "n")
_AGREE = ("pearson", "spearman", "iou_top10", "iou_top20")


def available_methods(project: Project, name: str) -> list[str]:
    """Methods with maps in every fold run of experiment ``name`` (in ``methods()`` order)."""
    from engine.explain import fold_runs, heatmap_paths, methods

    runs = fold_runs(project, name)
    return [m for m in methods() if runs and all(heatmap_paths(r, m)[0].exists() for _, r in runs)]


def explain_section(project: Project, names: Sequence[str], families: dict[str, str],
                    n_boot: int = 2000, seed: int = 0, gallery_per_kind: int = 2) -> tuple[dict | None, dict]:
    """``(section, figures)``: JSON-ready measures and base64 PNG overlays; ``(None, {})`` without maps."""
    from engine.explain import compare_heatmaps, load_experiment_heatmaps, roi_summary

    found = {n: available_methods(project, n) for n in names}
    if not any(found.values()):
        return None, {}
    maps = {(n, m): load_experiment_heatmaps(project, n, m) for n, ms in found.items() for m in ms}
    roi = [roi_summary(project, n, m, n_boot=n_boot, seed=seed) for (n, m) in maps]
    pairs = []
    for a, b in combinations([n for n in names if found[n]], 2):
        for ma in found[a]:
            for mb in found[b]:
                ha, hb = maps[(a, ma)], maps[(b, mb)]
                if not len(np.intersect1d(ha.image_ids, hb.image_ids)):
                    continue
                c = compare_heatmaps(project, ha, hb, None, n_boot, seed)
                pairs.append(({"a": a, "method_a": ma, "b": b, "method_b": mb,
                               "images": int(len(c.image_ids)),
                               "agreement": {k: v.to_json() for k, v in c.agreement_summary.items()},
                               "roi_energy": {"a_mean": _mean(c.energy_a), "b_mean": _mean(c.energy_b),
                                              "wilcoxon": c.energy_test.to_json()}}, c))
    section = {"roi": roi, "comparisons": [p for p, _ in pairs],
               "answer": areas_answer(roi, [p for p, _ in pairs], families)}
    figures = {}
    if pairs:
        p, c = pairs[0]
        figures = gallery(project, maps[(p["a"], p["method_a"])], maps[(p["b"], p["method_b"])],
                          (p["a"], p["b"]), c, gallery_per_kind)
    return section, figures


def _mean(values) -> float | None:
    v = np.asarray(values, np.float64)
    v = v[~np.isnan(v)]
    return float(v.mean()) if len(v) else None


# -- tables ---------------------------------------------------------------------------

def roi_table(section: dict | None):
    header = ["experiment", "method", "group", "images", "with_roi"]
    header += [f"{k}_{s}" for k in ("energy", "hit", "chance") for s in _STATS]
    rows = []
    for s in (section or {}).get("roi", []):
        for group, d in s["groups"].items():
            rows.append([s["experiment"], s["method"], group, s["images"], s["with_roi"]]
                        + [d[k][st] for k in ("energy", "hit", "chance") for st in _STATS])
    return header, rows


def agreement_table(section: dict | None):
    header = ["a", "method_a", "b", "method_b", "images"]
    header += [f"{k}_{s}" for k in _AGREE for s in _STATS]
    header += ["roi_energy_a", "roi_energy_b", "wilcoxon_statistic", "wilcoxon_p", "wilcoxon_n",
               "median_difference"]
    rows = []
    for p in (section or {}).get("comparisons", []):
        w = p["roi_energy"]["wilcoxon"]
        rows.append([p["a"], p["method_a"], p["b"], p["method_b"], p["images"]]
                    + [p["agreement"][k][s] for k in _AGREE for s in _STATS]
                    + [p["roi_energy"]["a_mean"], p["roi_energy"]["b_mean"], w["statistic"], w["p_value"],
                       w["n"], w["median_difference"]])
    return header, rows


EXPLAIN_TABLES = {"explain_roi": roi_table, "explain_agreement": agreement_table}


# -- question 3 -----------------------------------------------------------------------

def _f(x) -> str:
    return "n/a" if x is None or x != x else f"{x:.3f}"


def areas_answer(roi: list[dict], comparisons: list[dict], families: dict[str, str]) -> str:
    """One plain sentence (or two) on what the map measures show about question 3 and what they do not."""
    mixed = [p for p in comparisons if {families.get(p["a"]), families.get(p["b"])} == {"cnn", "vit"}]
    if not mixed:
        return ("Not answered: heatmaps exist, but not for a CNN and a ViT experiment on the same images; "
                "run `affengine explain PROJECT --experiment E` for one of each.")
    p = mixed[0]
    r, iou, w = p["agreement"]["pearson"], p["agreement"]["iou_top10"], p["roi_energy"]["wilcoxon"]
    text = (f"On {p['images']} images, {p['a']} ({p['method_a']}) and {p['b']} ({p['method_b']}) maps "
            f"agree with mean Pearson r {_f(r['mean'])} (95% CI {_f(r['low'])} to {_f(r['high'])}) and "
            f"top-10% IoU {_f(iou['mean'])}")
    if w["n"]:
        text += (f"; ROI energy is {_f(p['roi_energy']['a_mean'])} vs {_f(p['roi_energy']['b_mean'])} "
                 f"(Wilcoxon {format_p(w['p_value'])}, {w['n']} images with an ROI)")
    else:
        text += ("; no image with an ROI has map mass under both models, so ROI energy is not compared and "
                 "whether either model looks at the fracture site is not measured")
    return text + (". These maps show where each method puts weight at its own grid resolution, not "
                   "which pixels the models causally rely on; low agreement may reflect the method and "
                   "grid as much as the model.")


# -- gallery --------------------------------------------------------------------------

def pick_images(ha, hb, pearson: np.ndarray, per_kind: int = 2) -> list[tuple[str, int]]:
    """``(kind, image_id)``: both right, at least one wrong, and the least agreeing (lowest Pearson)."""
    right_a = (ha.probability >= 0.5) == (ha.label == 1)
    right_b = (hb.probability >= 0.5) == (hb.label == 1)
    chosen: list[tuple[str, int]] = []
    order = np.argsort(np.nan_to_num(pearson, nan=np.inf), kind="stable")
    for kind, rows in (("correct", np.flatnonzero(right_a & right_b)),
                       ("wrong", np.flatnonzero(~right_a | ~right_b)), ("disagreeing", order)):
        taken = 0
        for k in rows:
            if taken == per_kind:
                break
            if int(ha.image_ids[k]) not in [i for _, i in chosen]:
                chosen.append((kind, int(ha.image_ids[k])))
                taken += 1
    return chosen


def _panel(ax, project: Project, grey: np.ndarray, heat: np.ndarray, image_id: int, title: str) -> None:
    from matplotlib.patches import Rectangle

    from engine.explain import letterbox_box, upsample

    size = grey.shape[-1]
    ax.imshow(grey, cmap="gray", vmin=0, vmax=255)
    ax.imshow(upsample(heat[None].astype(np.float32), size)[0], cmap="jet", alpha=0.4, vmin=0, vmax=1)
    img = project.images.get(image_id)
    cache_wh = (img.cache_width or img.width, img.cache_height or img.height)
    for r in project.rois.for_image(image_id):
        x0, y0, x1, y1 = letterbox_box((r.x0, r.y0, r.x1, r.y1), (img.width, img.height), cache_wh, size)
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="lime", lw=1.2))
    ax.set_title(title, fontsize=7)
    ax.axis("off")


def gallery(project: Project, ha, hb, names: tuple[str, str], comparison,
            per_kind: int = 2) -> dict[str, str]:
    """Caption -> base64 PNG: each picked image with both experiments' overlays side by side."""
    from engine.report._plots import _figure, png_base64
    from engine.train import prepare_images

    ha, hb = ha.subset(comparison.image_ids), hb.subset(comparison.image_ids)
    picked = pick_images(ha, hb, comparison.agreement["pearson"], per_kind)
    if not picked:
        return {}
    ids = [i for _, i in picked]
    sets = [(n, h.subset(ids)) for n, h in zip(names, (ha, hb))]
    grey = {n: prepare_images(project, ids, int(h.info["input_size"]), "cpu").numpy()[:, 0] for n, h in sets}
    out = {}
    for k, (kind, image_id) in enumerate(picked):
        fig = _figure(2.6 * len(sets), 2.9)
        for j, (n, h) in enumerate(sets):
            label = "AFF" if h.label[k] == 1 else "NFF"
            title = (f"{n} ({h.info.get('model', '?')}, {h.info.get('method', '?')})\n"
                     f"p(AFF) {h.probability[k]:.2f}, label {label}")
            _panel(fig.add_subplot(1, len(sets), j + 1), project, grey[n][k], h.maps[k], image_id, title)
        fig.suptitle(f"image {image_id}: {kind}", fontsize=8)
        out[f"image {image_id} ({kind})"] = png_base64(fig)
    return out


# -- HTML -----------------------------------------------------------------------------

def explain_html(section: dict | None, figures: dict[str, str], table_html) -> str:
    """The section's HTML (``table_html`` renders a header + rows table)."""
    if section is None:
        return f"<h2>Explainability</h2><p class='note'>{html.escape(HINT)}</p>"
    parts = ["<h2>Explainability: ROI measures</h2>",
             "<p class='note'>Share of map mass inside the ROI (energy) and whether the map's peak lies "
             "in it (pointing game), mean with 95% bootstrap CI, next to the chance level (the ROI's "
             "share of the input). Images without an ROI are left out.</p>", table_html(roi_table(section))]
    if section["comparisons"]:
        parts += ["<h2>Explainability: do the models look at the same areas?</h2>",
                  "<p class='note'>Per-image agreement of the two maps (upsampled to a common grid), mean "
                  "with 95% bootstrap CI; paired Wilcoxon signed-rank test of ROI energy.</p>",
                  table_html(agreement_table(section))]
    if figures:
        parts.append("<h3>Gallery</h3><p class='note'>Same images, both models: heatmap over the letterboxed "
                     "radiograph as the model saw it; ROI box in green.</p><div class='gallery'>")
        parts += [f"<img alt='{html.escape(c)}' src='data:image/png;base64,{png}'>"
                  for c, png in figures.items()]
        parts.append("</div>")
    return "\n".join(parts)
