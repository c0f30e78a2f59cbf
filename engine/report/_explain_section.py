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
_FAITH = ("map", "random", "map_minus_random")


def available_methods(project: Project, name: str) -> list[str]:
    """Methods with maps in every fold run of experiment ``name`` (in ``methods()`` order)."""
    from engine.explain import fold_runs, heatmap_paths, methods

    runs = fold_runs(project, name)
    return [m for m in methods() if runs and all(heatmap_paths(r, m)[0].exists() for _, r in runs)]


def shared_method(found: dict[str, list[str]], names: Sequence[str]) -> str | None:
    """The method every listed experiment has, model-agnostic first (occlusion, then ig, ...)."""
    from engine.explain import DEFAULT_METHOD, methods

    have = [set(found[n]) for n in names if found.get(n)]
    if not have:
        return None
    common = set.intersection(*have)
    order = [DEFAULT_METHOD] + [m for m in methods() if m != DEFAULT_METHOD]
    return next((m for m in order if m in common), None)


def explain_section(project: Project, names: Sequence[str], families: dict[str, str],
                    n_boot: int = 2000, seed: int = 0, gallery_per_kind: int = 2) -> tuple[dict | None, dict]:
    """``(section, figures)``: JSON-ready measures and base64 PNG overlays; ``(None, {})`` without maps.

    Experiments are compared only with the *same* method (a CNN's Grad-CAM against a ViT's
    rollout would compare methods and grids, not models); the model-agnostic methods come
    first and the headline uses the ROI occlusion test, which needs no map.
    """
    from engine.explain import (
        compare_heatmaps,
        faithfulness_summary,
        load_experiment_heatmaps,
        method_kind,
        reliance_summary,
        roi_summary,
    )

    found = {n: available_methods(project, n) for n in names}
    if not any(found.values()):
        return None, {}
    maps = {(n, m): load_experiment_heatmaps(project, n, m) for n, ms in found.items() for m in ms}
    roi = [roi_summary(project, n, m, n_boot=n_boot, seed=seed) for (n, m) in maps]
    for r in roi:
        r["kind"] = method_kind(r["method"])
    faith = [f for (n, m) in maps if (f := faithfulness_summary(project, n, m, n_boot, seed)) is not None]
    reliance = [r for n in names if (r := reliance_summary(project, n, n_boot, seed)) is not None]
    pairs = []
    for a, b in combinations([n for n in names if found[n]], 2):
        for m in [m for m in found[a] if m in found[b]]:
            ha, hb = maps[(a, m)], maps[(b, m)]
            if not len(np.intersect1d(ha.image_ids, hb.image_ids)):
                continue
            c = compare_heatmaps(project, ha, hb, None, n_boot, seed)
            pairs.append(({"a": a, "method_a": m, "b": b, "method_b": m, "kind": method_kind(m),
                           "images": int(len(c.image_ids)),
                           "agreement": {k: v.to_json() for k, v in c.agreement_summary.items()},
                           "roi_energy": {"a_mean": _mean(c.energy_a), "b_mean": _mean(c.energy_b),
                                          "wilcoxon": c.energy_test.to_json()}}, c))
    mixed = [n for n in names if found[n] and families.get(n) in ("cnn", "vit")]
    method = shared_method(found, mixed) or shared_method(found, [n for n in names if found[n]])
    section = {"roi": roi, "comparisons": [p for p, _ in pairs], "faithfulness": faith,
               "reliance": reliance, "method": method,
               "blank_maps": [{"experiment": r["experiment"], "method": r["method"],
                               "blank": r["blank_maps"], "images": r["images"]} for r in roi],
               "answer": areas_answer(roi, [p for p, _ in pairs], families, reliance, faith, method)}
    figures = {}
    first = next((pc for pc in pairs if pc[0]["method_a"] == method), pairs[0] if pairs else None)
    if first is not None:
        p, c = first
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
    header += ["energy_verdict", "hit_verdict"]
    rows = []
    for s in (section or {}).get("roi", []):
        for group, d in s["groups"].items():
            rows.append([s["experiment"], s["method"], group, s["images"], s["with_roi"]]
                        + [d[k][st] for k in ("energy", "hit", "chance") for st in _STATS]
                        + [d.get("verdict", {}).get("energy"), d.get("verdict", {}).get("hit")])
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


def reliance_table(section: dict | None):
    header = ["experiment", "region", "images", "verdict", "chance"]
    header += [f"{k}_{s}" for k in ("reliance", "drop", "drop_control") for s in _STATS]
    rows = []
    for r in (section or {}).get("reliance", []):
        for region, d in r["regions"].items():
            rows.append([r["experiment"], region, d["images"], d["verdict"], d["chance"]]
                        + [d[k][st] for k in ("reliance", "drop", "drop_control") for st in _STATS])
    return header, rows


def faithfulness_table(section: dict | None):
    header = ["experiment", "method", "images", "blank_maps", "faithful"]
    header += [f"{c}_{k}_{s}" for c in ("deletion", "insertion") for k in _FAITH for s in _STATS]
    rows = []
    for f in (section or {}).get("faithfulness", []):
        rows.append([f["experiment"], f["method"], f["images"], f["blank_maps"], f["faithful"]]
                    + [f[c][k][s] for c in ("deletion", "insertion") for k in _FAITH for s in _STATS])
    return header, rows


def blank_table(section: dict | None):
    return (["experiment", "method", "blank", "images"],
            [[b["experiment"], b["method"], b["blank"], b["images"]]
             for b in (section or {}).get("blank_maps", [])])


EXPLAIN_TABLES = {"explain_roi": roi_table, "explain_agreement": agreement_table,
                  "explain_reliance": reliance_table, "explain_faithfulness": faithfulness_table,
                  "explain_blank_maps": blank_table}


# -- question 3 -----------------------------------------------------------------------

def _f(x) -> str:
    return "n/a" if x is None or x != x else f"{x:.3f}"


def _ci_text(d: dict) -> str:
    return f"{d['mean']:+.3f} (95% CI {d['low']:+.3f} to {d['high']:+.3f}, {d['n']} images)"


def reliance_sentence(reliance: list[dict], families: dict[str, str]) -> str:
    """The headline: reliance on the fracture region per model, CNN and ViT side by side."""
    rows = sorted(reliance, key=lambda r: (families.get(r["experiment"]) != "cnn", r["experiment"]))
    parts = []
    for r in rows:
        roi = r["regions"].get("roi")
        if roi is None:
            continue
        fam = families.get(r["experiment"], "?").upper()
        parts.append(f"{r['experiment']} ({fam}) {_ci_text(roi['reliance'])}, {roi['verdict']}")
    if not parts:
        return ""
    text = ("Reliance on the fracture region (drop in P(true class) when the ROI is blanked minus "
            "the drop for a same-size box elsewhere in the bone; chance 0): " + "; ".join(parts) + ".")
    for r in rows:
        roi, marker = r["regions"].get("roi"), r["regions"].get("marker")
        if marker is None:
            continue
        text += (f" {r['experiment']} relies on the site marker region by "
                 f"{_ci_text(marker['reliance'])}, {marker['verdict']}")
        beats_roi = roi is None or marker["reliance"]["mean"] > roi["reliance"]["mean"]
        if marker["verdict"] == "above chance" and beats_roi:
            text += (": its evidence has moved from the fracture to the marker, a shortcut outside the "
                     "ROI; do not read its heatmaps as fracture findings")
        text += "."
    return text


def areas_answer(roi: list[dict], comparisons: list[dict], families: dict[str, str],
                 reliance: list[dict] | None = None, faithfulness: list[dict] | None = None,
                 method: str | None = None) -> str:
    """Plain sentences on question 3: the reliance headline, then what the same-method maps show."""
    headline = reliance_sentence(reliance or [], families)
    mixed = [p for p in comparisons if {families.get(p["a"]), families.get(p["b"])} == {"cnn", "vit"}]
    mixed.sort(key=lambda p: p["method_a"] != method)
    if not mixed:
        text = ("Map comparison not answered: heatmaps exist, but not with the same method for a CNN and a "
                "ViT experiment on the same images; run `affengine explain PROJECT --experiment E --method "
                "occlusion` for one of each.")
        return (headline + " " + text).strip()
    p = mixed[0]
    m = p["method_a"]
    r, iou, w = p["agreement"]["pearson"], p["agreement"]["iou_top10"], p["roi_energy"]["wilcoxon"]
    extra = "" if p.get("kind", "model-agnostic") == "model-agnostic" else f", a {p['kind']}"
    text = (f"With the same method for both ({m}{extra}), on {p['images']} images {p['a']} and {p['b']} maps "
            f"agree with mean Pearson r {_f(r['mean'])} (95% CI {_f(r['low'])} to {_f(r['high'])}) and "
            f"top-10% IoU {_f(iou['mean'])}")
    if w["n"]:
        text += (f"; ROI energy is {_f(p['roi_energy']['a_mean'])} vs {_f(p['roi_energy']['b_mean'])} "
                 f"(Wilcoxon {format_p(w['p_value'])}, {w['n']} images with an ROI)")
    else:
        text += ("; no image with an ROI has map mass under both models, so ROI energy is not compared and "
                 "whether either model looks at the fracture site is not measured")
    text += "."
    for s in roi:
        if s["method"] != m or s["experiment"] not in (p["a"], p["b"]):
            continue
        g = s["groups"]["all"]
        if g["chance"]["n"] and g["energy"]["n"]:
            text += (f" {s['experiment']}: ROI energy {_f(g['energy']['mean'])} against chance "
                     f"{_f(g['chance']['mean'])} ({g['verdict']['energy']}), pointing game "
                     f"{_f(g['hit']['mean'])} ({g['verdict']['hit']}).")
        if s.get("blank_maps"):
            text += (f" {s['blank_maps']} of {s['images']} {s['experiment']} {m} maps are all zero and count "
                     "as no evidence.")
    for f in faithfulness or []:
        if f["method"] != m:
            continue
        d, i = f["deletion"], f["insertion"]
        text += (f" {f['experiment']} {m} maps: deletion AUC {_f(d['map']['mean'])} vs random order "
                 f"{_f(d['random']['mean'])}, insertion AUC {_f(i['map']['mean'])} vs "
                 f"{_f(i['random']['mean'])} ({'faithful' if f['faithful'] else 'not shown faithful'}).")
    if not headline:
        text += (" These maps show where the method puts weight, not which pixels the models causally rely "
                 "on; run the explanation with occlusion on images with ROIs for the ROI occlusion test.")
    return (headline + " " + text).strip()


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
    parts = []
    if section.get("reliance"):
        parts += ["<h2>Explainability: reliance on the fracture region</h2>",
                  "<p class='note'>ROI occlusion test, per image with an ROI: the ROI is filled with the "
                  "mean of a ring around it, and separately a same-size box inside the bone away from the "
                  "ROI; reliance is the paired difference of the drops in P(true class), mean with 95% "
                  "patient-bootstrap CI; chance is 0. It needs no heatmap.</p>",
                  table_html(reliance_table(section))]
    if section.get("faithfulness"):
        parts += ["<h2>Explainability: are the maps faithful?</h2>",
                  "<p class='note'>Deletion and insertion curves (Petsiuk et al. 2018): area under "
                  "P(predicted class) as pixels are removed (to black) or revealed (onto a blurred image) "
                  "in map order, against a random order. Lower deletion and higher insertion than random: "
                  "faithful. All-zero maps are left out.</p>", table_html(faithfulness_table(section))]
    parts += ["<h2>Explainability: ROI measures</h2>",
             "<p class='note'>Share of map mass inside the ROI (energy) and whether the map's peak lies "
             "in it (pointing game), mean with 95% bootstrap CI, next to the chance level (the ROI's "
             "share of the input), with the verdict against chance. Images without an ROI are left out. "
             "Occlusion and ig are model-agnostic; Grad-CAM's family and rollout are family-specific "
             "extras at each model's own grid.</p>", table_html(roi_table(section)),
             "<h3>All-zero maps per method</h3>", table_html(blank_table(section))]
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
