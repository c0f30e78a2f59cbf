"""Plain-language answers to the study's three questions: what the numbers show and what they do not."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.evaluate import format_p

if TYPE_CHECKING:
    from engine.report._data import ReportData

ALPHA = 0.05
QUESTIONS = {
    "vit_vs_cnn": "Is a vision transformer significantly better than a CNN?",
    "compute": "What does a vision transformer cost in compute compared with a CNN?",
    "pretraining": "Does ImageNet pre-training help vision transformers more than CNNs?",
}


def _p(p: float | None) -> str:
    return format_p(p)


def _ci(low, high, pct) -> str:
    return f"{pct}% CI {low:+.3f} to {high:+.3f}"


def _families(data: ReportData) -> dict[str, str]:
    return {e.name: e.family for e in data.experiments}


def _vit_vs_cnn(data: ReportData) -> str:
    fam = _families(data)
    pct = round(data.conf_level * 100)
    rows = [r for r in data.comparisons if {fam[r.first], fam[r.second]} == {"vit", "cnn"}]
    if not rows:
        present = sorted(set(fam.values()))
        return ("Not answered: the report needs at least one CNN and one ViT experiment compared with each "
                f"other (families here: {', '.join(present)}"
                + ("; with --reference only pairs with the reference are compared" if data.reference else "")
                + ").")
    delong = all(r.p_delong_holm is not None for r in rows)
    lines = []
    repeated = _repeated_tests(data, rows, fam)
    for r in rows:
        # Always state the difference as ViT - CNN.
        sign = 1.0 if fam[r.first] == "vit" else -1.0
        vit, cnn = (r.first, r.second) if sign > 0 else (r.second, r.first)
        d = sign * r.difference
        if delong:
            lo, hi = sorted((sign * r.delong_ci_low, sign * r.delong_ci_high))
            p_holm, test = r.p_delong_holm, "paired DeLong"
        else:
            lo, hi = sorted((sign * r.boot_ci_low, sign * r.boot_ci_high))
            p_holm, test = r.p_boot_holm, "patient bootstrap"
            if r.boot_near_one:
                test += "; an AUC is within 0.005 of 1, where no percentile-bootstrap p is reliable"
        auc_v = r.auc_first if sign > 0 else r.auc_second
        auc_c = r.auc_second if sign > 0 else r.auc_first
        if p_holm < ALPHA:
            verdict = (f"significant at {ALPHA} after Holm correction: {vit} is "
                       f"{'better' if d > 0 else 'worse'} than {cnn}")
        elif data.margin is None:
            verdict = (f"not shown to differ (not significant at {ALPHA} after Holm correction); this does "
                       f"not show equivalence: the data are compatible with differences from {lo:+.3f} to "
                       f"{hi:+.3f}")
        else:
            verdict = (f"not shown to differ (not significant at {ALPHA} after Holm correction); the data "
                       f"are compatible with differences from {lo:+.3f} to {hi:+.3f}")
        rep = repeated.get((vit, cnn))
        if rep is not None:  # repeats exist: the corrected test across them is the answer
            lines.append(_repeated_line(rep, vit, cnn, pct) + f" In repeat 0 alone: AUC {auc_v:.3f} vs "
                         f"{auc_c:.3f}, difference {d:+.3f} ({_ci(lo, hi, pct)}, {test}, Holm-adjusted "
                         f"{_p(p_holm)}; patient sampling variance of that one partition)."
                         + _margin_text(data, vit, cnn))
            continue
        lines.append(f"{vit} vs {cnn}: AUC {auc_v:.3f} vs {auc_c:.3f}, difference (ViT - CNN) {d:+.3f} "
                     f"({_ci(lo, hi, pct)}, {test}, Holm-adjusted {_p(p_holm)}): {verdict}."
                     + _margin_text(data, vit, cnn))
    variance = "" if repeated else (" Each CI carries the sampling variance of patients for this one "
                                    "partition and training seed; it does not include the variation between "
                                    "partitions or seeds.")
    boot_note = ("" if delong else " DeLong's test is not used at image level because patients have several "
                 "images; the patient bootstrap is.")
    return (f"At {data.level} level ({data.data.cv_patients} patients, {data.data.cv_images} images). "
            + " ".join(lines) + variance + boot_note
            + " The comparison holds for these models, this training budget and this data; it is out-of-fold "
              "cross-validation on one site, not an external test.")


def _repeated_tests(data: ReportData, rows, fam) -> dict:
    """ViT-CNN pairs with a corrected test across R x K folds, Holm-adjusted."""
    from engine.evaluate import holm_adjust

    found = {}
    for c in (data.repeats or {}).get("comparisons", []):
        if "error" in c or len(c.get("delong", [])) < 2:
            continue  # one partition and one seed: the paired DeLong above is the test
        if {fam.get(c["first"]), fam.get(c["second"])} != {"vit", "cnn"}:
            continue
        sign = 1.0 if fam[c["first"]] == "vit" else -1.0
        vit, cnn = (c["first"], c["second"]) if sign > 0 else (c["second"], c["first"])
        lo, hi = sorted((sign * c["ci_low"], sign * c["ci_high"]))
        found[(vit, cnn)] = {**c, "d": sign * c["mean_difference"], "lo": lo, "hi": hi}
    if found:
        for rep, p in zip(found.values(), holm_adjust([r["p_value"] for r in found.values()])):
            rep["p_holm"] = float(p)
    return found


def _repeated_line(rep: dict, vit: str, cnn: str, pct: int) -> str:
    """The answer from the corrected resampled t-test across repeats (Nadeau & Bengio 2003)."""
    n_sig = sum(d["p_value"] < ALPHA for d in rep["delong"])
    better = "better" if rep["d"] > 0 else "worse"
    verdict = (f"significant at {ALPHA} after Holm correction: {vit} is {better} than {cnn}"
               if rep["p_holm"] < ALPHA else
               f"not shown to differ (not significant at {ALPHA} after Holm correction); this does not show "
               f"equivalence: the data are compatible with differences from {rep['lo']:+.3f} to "
               f"{rep['hi']:+.3f}")
    return (f"{vit} vs {cnn} across {len(rep['delong'])} repeats x seeds ({rep['pairs']} paired folds): "
            f"mean per-fold AUC difference (ViT - CNN) {rep['d']:+.3f} ({_ci(rep['lo'], rep['hi'], pct)}, "
            f"corrected resampled t-test, Nadeau & Bengio 2003, df {rep['df']}, "
            f"Holm-adjusted {_p(rep['p_holm'])}): "
            f"{verdict}. This CI carries the variance between partitions (and training seeds), with the "
            f"test/train-size correction; it is not a patient-sampling CI. The paired DeLong test was "
            f"significant at {ALPHA} in {n_sig} of {len(rep['delong'])} repeats (not combined into one p: "
            f"the repeats share patients).")


def _margin_text(data: ReportData, vit: str, cnn: str) -> str:
    """Non-inferiority and equivalence within the report's margin, at the report's level."""
    if data.margin is None or not data.statistics:
        return ""
    rows = [r for r in data.statistics.get("noninferiority", [])
            if r["vit"] == vit and r["cnn"] == cnn and r["level"] == data.level]
    if not rows:
        return ""
    r, m = rows[0], data.margin
    how = "paired DeLong" if r["method"] == "delong" else "patient bootstrap"
    ni = (f"{vit} is non-inferior within {m:g}" if r["noninferior"]
          else f"non-inferiority within {m:g} is not shown")
    eq = f"equivalent within ±{m:g}" if r["equivalent"] else f"equivalence within ±{m:g} is not shown"
    return (f" With the margin M = {m:g} ({how}, one-sided alpha {ALPHA}, 90% CI {r['ci_low']:+.3f} to "
            f"{r['ci_high']:+.3f}): {ni} ({_p(r['p_noninferior'])}); {eq} (TOST {_p(r['p_equivalence'])}).")


def _ratio(a, b) -> str:
    if a is None or b is None or not b:
        return "n/a"
    return f"{a / b:.2f}x"


def _compute(data: ReportData) -> str:
    vits = [c for c in data.compute if c.family == "vit"]
    cnns = [c for c in data.compute if c.family == "cnn"]
    if not vits or not cnns:
        return ("Not answered side by side: the report needs a CNN and a ViT experiment; the compute table "
                "lists what was measured.")
    lines = []
    for v in vits:
        for c in cnns:
            lines.append(
                f"{v.name} vs {c.name}: parameters {_ratio(v.parameters, c.parameters)}, forward GFLOPs "
                f"{_ratio(v.forward_gflops, c.forward_gflops)} (at {v.image_size} vs {c.image_size} px), "
                f"training throughput {_ratio(v.train_images_per_s, c.train_images_per_s)}, time per epoch "
                f"{_ratio(v.epoch_seconds_mean, c.epoch_seconds_mean)}, peak memory "
                f"{_ratio(v.peak_memory_bytes, c.peak_memory_bytes)}, latency at batch 1 "
                f"{_ratio(v.latency_ms_batch1, c.latency_ms_batch1)} (ViT / CNN).")
    devices = sorted({c.device_name or c.device or "?" for c in data.compute})
    caveat = (" Timings were measured on different devices and are not comparable: "
              + "; ".join(devices) + "." if len(devices) > 1 else f" Measured on {devices[0]}.")
    return (" ".join(lines) + caveat + " Parameters and FLOPs are properties of the models; times and memory "
            "depend on the device, precision and batch size, and are single measurements without "
            "uncertainty.")


def _pretraining(data: ReportData) -> str:
    pct = round(data.conf_level * 100)
    if not data.pretraining:
        return ("Not answered: no pair of experiments differs only in pre-training (same model and settings, "
                "one pretrained and one from scratch).")
    lines = []
    for r in data.pretraining:
        sig = "significant" if r.p_value < ALPHA else "not significant"
        lines.append(f"{r.model} ({r.family}): pre-training changes the AUC by {r.gain:+.3f} "
                     f"({_ci(r.ci_low, r.ci_high, pct)}, {_p(r.p_value)}, {sig} at {ALPHA}).")
    if not data.diff_in_diff:
        lines.append("The difference between CNN and ViT gains needs a pair for each family; it is not "
                     "answered here.")
    for d in data.diff_in_diff:
        who = "the ViT gains more" if d.difference < 0 else "the CNN gains more"
        if d.p_value < ALPHA:
            verdict = f"significant at {ALPHA}: {who} from pre-training"
        else:
            verdict = (f"not significant at {ALPHA}; the data do not show that pre-training helps one family "
                       f"more than the other (nor that it helps both equally)")
        lines.append(f"Difference in differences, {d.cnn_model} gain - {d.vit_model} gain: "
                     f"{d.difference:+.3f} "
                     f"({_ci(d.ci_low, d.ci_high, pct)}, patient bootstrap, {_p(d.p_value)}): {verdict}.")
    return " ".join(lines) + " The gains are not Holm-adjusted (one pre-specified contrast per pair)."


def study_answers(data: ReportData) -> dict[str, str]:
    """One paragraph per question in :data:`QUESTIONS`."""
    return {"vit_vs_cnn": _vit_vs_cnn(data), "compute": _compute(data), "pretraining": _pretraining(data)}
