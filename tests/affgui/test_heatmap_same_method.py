"""The heatmap window pairs the same method for a CNN and a ViT by default; rollout needs a class token."""

from __future__ import annotations

import os

import pytest

from engine.experiments import create_experiment
from engine.splits import create_split
from engine.store import Project
from tests.affgui.conftest import make_project, open_in
from tests.affgui.test_heatmap_compare import write_maps
from tests.engine._train_factory import tiny_spec


@pytest.fixture
def study(tmp_path):
    path = tmp_path / "Study.affproj"
    ids = make_project(path)
    with Project.open(path) as project:
        project.labels.set_each({i: ("AFF", "NFF")[k % 2] for k, i in enumerate(ids)}, "tester", "cli")
        create_split(project, "default", k=2, seed=0)
        create_experiment(project, "cnn", tiny_spec(path, "resnet10t"))
        create_experiment(project, "vit", tiny_spec(path, "vit_tiny_patch16_224"))
        for name in ("cnn", "vit"):  # gradcam listed first in the files, occlusion must still win
            for method in ("gradcam", "ig", "occlusion"):
                write_maps(project, name, method)
        write_maps(project, "vit", "rollout")
    return path


def _open(qtbot, window, study):
    open_in(qtbot, window, study)
    window.grid.select_row(0)
    window.heatmaps.action.trigger()
    widget = window.heatmaps.widget
    qtbot.waitExposed(widget)
    return widget


def test_cnn_and_vit_are_paired_with_the_same_model_agnostic_method(qtbot, window, study):
    widget = _open(qtbot, window, study)
    qtbot.waitUntil(lambda: len(widget.panes) == 2 and all(
        p.maps is not None and p.maps.state == "ready" and p.maps.method == "occlusion"
        for p in widget.panes), timeout=15_000)
    assert widget.experiments() == ["cnn", "vit"] and widget.method() == "occlusion"
    assert {p.maps.method for p in widget.panes} == {"occlusion"}
    combo = widget.controls.method_combo
    assert combo.itemText(combo.findData("gradcam")) == "gradcam (extra)"
    assert combo.itemText(combo.findData("occlusion")) == "occlusion"
    # resnet10t has no class token: rollout is not offered while the CNN is in the pairing.
    assert not widget.controls.offered("rollout") and not widget.controls.offered("gradrollout")
    assert widget.controls.offered("gradcam")
    shot = os.environ.get("AFFWB_HEATMAP_SCREENSHOT")  # docs/img/heatmaps_same_method.png, under Xvfb
    if shot:
        widget.resize(1400, 700)
        qtbot.wait(500)
        widget.grab().save(shot)
    widget.controls.set_chosen(["vit"])
    qtbot.waitUntil(lambda: widget.controls.offered("rollout"), timeout=10_000)
    widget.set_project(None)
