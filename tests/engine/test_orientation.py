"""Canonical orientation: left and right femurs of the same fracture reach the model as one image."""

import dataclasses

import numpy as np
import pytest

from engine.io import import_sources
from engine.phantom import PhantomConfig, PhantomImage, plan_study, render_image, write_dicom, write_png
from engine.store import Project
from engine.train import RunSpec, orientation_plan, prepare_images
from tests.engine._train_factory import tiny_spec


@pytest.fixture(scope="module")
def right_femur():
    plan = plan_study(PhantomConfig(patients=6, height=320, width=240, aff_share=0.5, seed=3))
    spec = next(s for p in plan for s in p.images if s.view == "AP" and s.label == "AFF")
    return render_image(dataclasses.replace(spec, laterality="R"))


def _mirror_of(img: PhantomImage) -> PhantomImage:
    """The same fracture in a left femur: the right femur's radiograph mirrored, tagged L."""
    return dataclasses.replace(img, pixels=np.ascontiguousarray(img.pixels[:, ::-1]),
                               spec=dataclasses.replace(img.spec, laterality="L", patient_id="PH-LEFT"))


def test_left_and_right_femur_give_the_same_canonical_image(tmp_path, right_femur):
    src = tmp_path / "src"
    src.mkdir()
    write_dicom(right_femur, src / "right.dcm")
    write_dicom(_mirror_of(right_femur), src / "left.dcm")  # DICOM ImageLaterality / Laterality = L
    with Project.create(tmp_path / "P") as project:
        import_sources(project, [src], workers=1)
        rows = {r.laterality: r.id for r in project.images.list(order="id")}
        assert set(rows) == {"L", "R"}  # read from the DICOM laterality tags at import
        ids = [rows["R"], rows["L"]]
        plan = orientation_plan(project, ids)
        assert plan.mirror.tolist() == [False, True]
        assert plan.counts() == {"images": 2, "mirrored": 1, "from_laterality": 2, "unknown": 0}
        canon = prepare_images(project, ids, 128, "cpu", mirror=plan.mirror).numpy().astype(float)
        as_is = prepare_images(project, ids, 128, "cpu").numpy().astype(float)
    canonical_error = np.abs(canon[0] - canon[1]).mean()
    assert canonical_error < 1.5  # interpolation / letterbox-centring error, in grey levels of 255
    assert np.abs(as_is[0] - as_is[1]).mean() > 10 * max(canonical_error, 0.5)


def test_an_image_without_laterality_is_kept_and_counted_unknown(tmp_path, right_femur):
    src = tmp_path / "src"
    src.mkdir()
    write_png(right_femur, src / "PH1_right.png")  # PNG without a manifest: no laterality
    write_dicom(_mirror_of(right_femur), src / "left.dcm")
    with Project.create(tmp_path / "P") as project:
        import_sources(project, [src], workers=1)
        rows = sorted(project.images.list(order="id"), key=lambda r: r.format)
        assert [(r.format, r.laterality) for r in rows] == [("dicom", "L"), ("png", None)]
        plan = orientation_plan(project, [r.id for r in rows])
    assert plan.mirror.tolist() == [True, False]
    assert plan.source.tolist() == ["laterality", "unknown"]
    assert plan.counts() == {"images": 2, "mirrored": 1, "from_laterality": 1, "unknown": 1}


def test_canonical_is_the_default_and_older_specs_read_as_is(tmp_path):
    spec = tiny_spec(tmp_path)
    assert spec.orientation == "canonical"
    old = {k: v for k, v in spec.to_json().items() if k != "orientation"}
    assert RunSpec.from_json(old).orientation == "as-is"  # trained before canonical orientation
    with pytest.raises(ValueError, match="orientation 'mirror' is not one of canonical, as-is"):
        spec.replace(orientation="mirror")


def test_no_flip_limits_never_mirror():
    import torch

    from engine.train import AugmentLimits, augment
    from engine.train._augment import NO_FLIP

    x = torch.zeros(64, 1, 32, 32, dtype=torch.uint8)
    x[:, :, :, :8] = 255  # a bright band on the left
    still = dict(min_area=1.0, log_aspect=0.0, rotate_deg=0.0, contrast=0.0, brightness=0.0,
                 log_gamma=0.0, noise=0.0)
    g = torch.Generator().manual_seed(0)
    flipped = augment(x, g, 1.0, 0.0, 1.0, AugmentLimits(flip=0.5, **still))
    assert (flipped[:, 0, :, -4:].mean((1, 2)) > 0.5).any()  # with flips some bands move right
    kept = augment(x, torch.Generator().manual_seed(0), 1.0, 0.0, 1.0,
                   dataclasses.replace(NO_FLIP, **still))
    assert (kept[:, 0, :, :4].mean((1, 2)) > 0.5).all() and (kept[:, 0, :, -4:].mean((1, 2)) < 0.5).all()
