"""The question-3 answer: one method for both families, the reliance headline, chance verdicts, the marker."""

from engine.report._explain_section import areas_answer, reliance_table, shared_method

FAM = {"cnn": "cnn", "vit": "vit"}


def _s(mean, low, high, n=20):
    return {"mean": mean, "low": low, "high": high, "n": n}


def _reliance(name, roi, marker=None):
    regions = {"roi": {"reliance": roi, "chance": 0.0, "drop": roi, "drop_control": _s(0, 0, 0),
                       "images": roi["n"], "area_share": 0.01, "no_control": 0,
                       "verdict": "above chance" if roi["low"] > 0 else "below chance" if roi["high"] < 0
                       else "at chance"}}
    if marker is not None:
        regions["marker"] = {**regions["roi"], "reliance": marker,
                             "verdict": "above chance" if marker["low"] > 0 else "at chance"}
    return {"experiment": name, "images": roi["n"], "regions": regions}


def _pair(method):
    agree = {k: _s(0.3, 0.2, 0.4) for k in ("pearson", "spearman", "iou_top10", "iou_top20")}
    return {"a": "cnn", "b": "vit", "method_a": method, "method_b": method, "images": 20,
            "kind": "model-agnostic" if method in ("occlusion", "ig") else "family-specific extra: layer CAM",
            "agreement": agree, "roi_energy": {"a_mean": 0.01, "b_mean": 0.02,
                                               "wilcoxon": {"n": 0, "p_value": 1.0}}}


def _roi(name, method, energy, chance=0.0117, blank=0):
    verdict = "below chance" if energy["high"] < chance else "above chance" if energy["low"] > chance \
        else "at chance"
    return {"experiment": name, "method": method, "images": 30, "blank_maps": blank,
            "groups": {"all": {"energy": energy, "hit": _s(0, 0, 0), "chance": _s(chance, chance, chance),
                               "verdict": {"energy": verdict, "hit": "below chance"}}}}


def test_the_shared_method_prefers_occlusion():
    found = {"cnn": ["gradcam", "occlusion", "ig"], "vit": ["ig", "occlusion", "rollout"]}
    assert shared_method(found, ["cnn", "vit"]) == "occlusion"
    assert shared_method({"cnn": ["gradcam", "ig"], "vit": ["ig", "gradcam"]}, ["cnn", "vit"]) == "ig"
    assert shared_method({"cnn": ["gradcam"], "vit": ["rollout"]}, ["cnn", "vit"]) is None


def test_headline_is_reliance_side_by_side_with_chance_verdicts():
    rel = [_reliance("vit", _s(0.01, -0.02, 0.04)), _reliance("cnn", _s(0.2, 0.1, 0.3))]
    roi = [_roi("cnn", "occlusion", _s(0.005, 0.004, 0.007), blank=3),
           _roi("vit", "occlusion", _s(0.02, 0.015, 0.03))]
    text = areas_answer(roi, [_pair("gradcam"), _pair("occlusion")], FAM, rel, [], "occlusion")
    assert text.startswith("Reliance on the fracture region")
    assert text.index("cnn (CNN) +0.200") < text.index("vit (VIT) +0.010")  # CNN first, side by side
    assert "above chance" in text and "at chance" in text
    assert "same method for both (occlusion)" in text and "gradcam" not in text
    assert "below chance" in text  # the CNN's ROI energy 0.005 against chance 0.0117
    assert "3 of 30 cnn occlusion maps are all zero" in text
    header, rows = reliance_table({"reliance": rel})
    assert header[:4] == ["experiment", "region", "images", "verdict"] and len(rows) == 2


def test_the_answer_says_so_when_reliance_moves_to_the_marker():
    rel = [_reliance("cnn", _s(0.01, -0.01, 0.03), marker=_s(0.3, 0.2, 0.4))]
    text = areas_answer([], [_pair("occlusion")], FAM, rel, [], "occlusion")
    assert "relies on the site marker region by +0.300" in text
    assert "moved from the fracture to the marker" in text
    rel = [_reliance("cnn", _s(0.2, 0.1, 0.3), _s(0, -0.01, 0.01))]
    clean = areas_answer([], [_pair("occlusion")], FAM, rel, [], "occlusion")
    assert "moved from the fracture" not in clean


def test_without_a_same_method_pair_the_comparison_is_not_answered():
    text = areas_answer([], [], FAM, [], [], None)
    assert text.startswith("Map comparison not answered") and "--method occlusion" in text
