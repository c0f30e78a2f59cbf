"""A damaged heatmaps file gives its pane a reason and the compute button, not an endless "Reading maps…"."""

from __future__ import annotations

import gc

import pytest

from affgui.parts.heatmaps import loading
from affgui.parts.heatmaps.pane import HeatmapPaneWidget
from engine.experiments import experiment_jobs
from engine.explain import heatmap_paths
from engine.store import Project
from tests.affgui.test_heatmap_compare import study  # noqa: F401 - the fixture


# numpy's np.load leaves the file of a damaged .npz to the garbage collector
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_truncated_npz_reads_as_failed_with_the_reason(qtbot, study):  # noqa: F811
    with Project.open(study) as project:
        npz = heatmap_paths(project.runs_dir / experiment_jobs(project, "cnn")[0].run_id, "gradcam")[0]
        npz.write_bytes(npz.read_bytes()[:40])  # a copy cut short
        maps = loading.load_maps(project, "cnn", "gradcam")
        gc.collect()
        assert maps.state == loading.FAILED
        assert "cannot read gradcam maps" in maps.message
        assert loading.load_maps(project, "vit", "gradcam").state == loading.READY
        row = project.images.list(order="id")[0]
    pane = HeatmapPaneWidget("cnn")
    qtbot.addWidget(pane)
    pane.set_image(row, None, (0.0, 255.0))
    pane.set_maps(maps)
    assert pane.message.text() == maps.message and not pane.compute_button.isHidden()
