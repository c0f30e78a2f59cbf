"""Canonical orientation: left and right femurs of the same fracture reach the model as one image."""

import dataclasses

import numpy as np
import pytest

from engine.io import import_sources
from engine.phantom import PhantomConfig, PhantomImage, plan_study, render_image, write_dicom, write_png
from engine.store import Project
from engine.train import RunSpec, orientation_plan, prepare_images
from engine.train._orientation_image import marker_side
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
        assert plan.counts() == {"images": 2, "mirrored": 1, "from_laterality": 2, "from_marker": 0,
                                 "unknown": 0}
        canon = prepare_images(project, ids, 128, "cpu", mirror=plan.mirror).numpy().astype(float)
        as_is = prepare_images(project, ids, 128, "cpu").numpy().astype(float)
    canonical_error = np.abs(canon[0] - canon[1]).mean()
    assert canonical_error < 1.5  # interpolation / letterbox-centring error, in grey levels of 255
    assert np.abs(as_is[0] - as_is[1]).mean() > 10 * max(canonical_error, 0.5)


def _without_marker(img: PhantomImage) -> PhantomImage:
    """``img`` with its lead marker painted over by the air around it: no side to read."""
    a, s = img.spec.acquisition, img.spec.spacing
    x0, y0 = int(a.marker[0] / s) - 3, int(a.marker[1] / s) - 3
    n = int(a.marker_size / s) + 7
    pixels = img.pixels.copy()
    box = pixels[max(0, y0):y0 + n, max(0, x0):x0 + n]
    box[...] = np.median(box)
    return dataclasses.replace(img, pixels=pixels)


def test_an_image_without_laterality_or_marker_is_kept_and_counted_unknown(tmp_path, right_femur):
    src = tmp_path / "src"
    src.mkdir()
    write_png(_without_marker(right_femur), src / "PH1_right.png")  # no laterality, no marker
    write_dicom(_mirror_of(right_femur), src / "left.dcm")
    with Project.create(tmp_path / "P") as project:
        import_sources(project, [src], workers=1)
        rows = sorted(project.images.list(order="id"), key=lambda r: r.format)
        assert [(r.format, r.laterality) for r in rows] == [("dicom", "L"), ("png", None)]
        plan = orientation_plan(project, [r.id for r in rows])
    assert plan.mirror.tolist() == [True, False]
    assert plan.source.tolist() == ["laterality", "unknown"]
    assert plan.counts() == {"images": 2, "mirrored": 1, "from_laterality": 1, "from_marker": 0,
                             "unknown": 1}


def test_the_marker_fallback_matches_the_manifest_on_images_with_hidden_laterality(tmp_path):
    """PNGs without a manifest carry no laterality: the side comes from the lead marker alone,
    and must be the manifest's on every image it decides (and decide most of them)."""
    plan = plan_study(PhantomConfig(patients=8, height=320, width=256, seed=21))
    specs = [s for p in plan for s in p.images][:20]
    src = tmp_path / "src"
    src.mkdir()
    truth = {}
    for spec in specs:
        write_png(render_image(spec), src / f"{spec.name}.png")
        truth[f"{spec.name}.png"] = spec.laterality
    assert set(truth.values()) == {"L", "R"}
    with Project.create(tmp_path / "P") as project:
        import_sources(project, [src], workers=1)
        rows = project.images.list(order="id")
        assert all(r.laterality is None for r in rows)  # hidden
        oplan = orientation_plan(project, [r.id for r in rows])
        cached, project_path = project.cache_dir / "marker_sides.json", project.path
    decided = 0
    for row, mirror, source in zip(rows, oplan.mirror, oplan.source, strict=True):
        side = truth[row.path.replace("\\", "/").rsplit("/", 1)[-1]]
        assert source in ("marker", "unknown")
        if source == "marker":
            decided += 1
            assert bool(mirror) == (side == "L"), row.path  # never a wrong mirror
        else:
            assert not mirror
    assert decided >= 0.8 * len(rows)
    assert oplan.counts()["from_marker"] == decided
    # read once per image: the answers are kept in the cache and the next plan uses them
    import json

    sides = json.loads(cached.read_text())
    assert len(sides) == len(rows) and set(sides.values()) <= {"L", "R", ""}
    cached.write_text(json.dumps({sha: "L" for sha in sides}))
    with Project.open(project_path) as project:
        assert orientation_plan(project, [r.id for r in rows]).mirror.all()


def test_marker_side_reads_both_letters_and_refuses_blank_images(right_femur):
    from engine.phantom import mirrored

    assert marker_side(right_femur.pixels) == "R"
    assert marker_side(render_image(mirrored(right_femur.spec)).pixels) == "L"
    assert marker_side(_without_marker(right_femur).pixels) is None
    assert marker_side(np.zeros((256, 200), np.uint8)) is None
    assert marker_side(np.zeros((8, 8), np.uint8)) is None


def test_phantom_left_and_right_femurs_of_one_fracture_are_mirrors(tmp_path):
    """render(mirrored(spec)) is render(spec) flipped, away from the lead letter (it names
    the side, and its glow in the dynamic-range compression), and through the import, cache
    and canonical orientation both reach the model as the same 128 px image."""
    from engine.phantom import mirrored

    plan = plan_study(PhantomConfig(patients=8, height=320, width=256, seed=4, ruler_share=0.5))
    rights = [s for p in plan for s in p.images if s.laterality == "R"][:6]
    assert any(s.acquisition.ruler >= 0 for s in rights) and {s.view for s in rights} == {"AP", "lateral"}
    src = tmp_path / "src"
    src.mkdir()
    for k, spec in enumerate(rights):
        right, left = render_image(spec), render_image(mirrored(spec))
        assert left.spec.laterality == "L"
        diff = np.abs(right.pixels.astype(float) - left.pixels[:, ::-1].astype(float))
        a, s = spec.acquisition, spec.spacing
        n = int(3 * a.marker_size / s)
        x0, y0 = int(a.marker[0] / s) - n // 3, int(a.marker[1] / s) - n // 3
        diff[max(0, y0):y0 + n, max(0, x0):x0 + n] = 0
        assert diff.mean() < 1.0 and np.percentile(diff, 99.9) < 16, spec.name  # of 4095: 0.4%
        write_dicom(right, src / f"r{k}.dcm")
        write_dicom(left, src / f"l{k}.dcm")
    with Project.create(tmp_path / "P") as project:
        import_sources(project, [src], workers=1)
        rows = {r.path.replace("\\", "/").rsplit("/", 1)[-1]: r for r in project.images.list(order="id")}
        ids = [rows[f"{side}{k}.dcm"].id for k in range(len(rights)) for side in "rl"]
        oplan = orientation_plan(project, ids)
        assert oplan.mirror.tolist() == [False, True] * len(rights)
        canon = prepare_images(project, ids, 128, "cpu", mirror=oplan.mirror).numpy().astype(float)
    for k in range(len(rights)):
        assert np.abs(canon[2 * k] - canon[2 * k + 1]).mean() < 1.0  # grey levels of 255


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
