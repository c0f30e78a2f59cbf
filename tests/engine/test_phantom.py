import csv
import dataclasses
import hashlib
import json
import math

import numpy as np
import pydicom
import pytest
from PIL import Image

from engine.phantom import (
    MANIFEST_COLUMNS,
    MAX_VALUE,
    REQUIRED_COLUMNS,
    TRANSFER_SYNTAXES,
    PhantomConfig,
    PhantomError,
    generate,
    layout,
    plan_study,
    png_values,
    read_manifest,
    render_image,
    write_dicom,
)
from engine.phantom._acquire import collimation_mask
from engine.phantom._layout import build_scene

SMALL = {"height": 320, "width": 256}


@pytest.fixture(scope="module")
def plan200():
    return plan_study(PhantomConfig(patients=200, seed=11, **SMALL))


def _images(plan):
    return [spec for patient in plan for spec in patient.images]


def _first(plan, **want):
    for spec in _images(plan):
        fx = spec.fracture
        if all(getattr(spec, k, getattr(fx, k, None)) == v for k, v in want.items()):
            return spec
    raise LookupError(want)


def _with(spec, acquisition=None, **fracture):
    acq = dataclasses.replace(spec.acquisition, **(acquisition or {}))
    return dataclasses.replace(spec, acquisition=acq,
                               fracture=dataclasses.replace(spec.fracture, **fracture))


# ---- configuration ----------------------------------------------------------------------------

def test_config_round_trips_through_json():
    config = PhantomConfig(patients=7, seed=3, difficulty=0.8, transfer_syntaxes=("rle",))
    data = json.loads(json.dumps(dataclasses.asdict(config)))
    assert PhantomConfig.from_dict(data) == config
    assert data["height"] == 2500 and data["width"] == 2000 and data["aff_share"] == 0.2


@pytest.mark.parametrize("bad", [{"patients": 0}, {"aff_share": 1.5}, {"difficulty": -0.1},
                                 {"height": 64}, {"height": 300, "width": 900},
                                 {"transfer_syntaxes": ("jpeg-ls",)}])
def test_config_rejects_bad_values(bad):
    with pytest.raises(PhantomError, match="phantom config"):
        PhantomConfig(**bad)


# ---- the study plan (geometry only) ------------------------------------------------------------

def test_patients_labels_and_images(plan200):
    assert len(plan200) == 200
    assert sum(p.label == "AFF" for p in plan200) == 40               # exactly round(0.2 * 200)
    counts = [len(p.images) for p in plan200]
    assert min(counts) == 1 and max(counts) == 6
    assert 3.0 < np.mean(counts) < 4.3                                 # ~4,300 images / 1,200
    assert len({p.patient_id for p in plan200}) == 200
    for p in plan200:
        assert {s.label for s in p.images} == {p.label}
        assert len({s.laterality for s in p.images}) == (2 if p.bilateral else 1)
    specs = _images(plan200)
    assert {s.view for s in specs} == {"AP", "lateral"}
    assert {s.laterality for s in specs} == {"L", "R"}
    assert sum(p.bilateral for p in plan200 if p.label == "AFF") >= 5
    other = plan_study(PhantomConfig(patients=30, seed=11, aff_share=0.5, **SMALL))
    assert sum(p.label == "AFF" for p in other) == 15


def test_aff_and_nff_follow_the_asbmr_features(plan200):
    specs = _images(plan200)
    aff = [s.fracture for s in specs if s.label == "AFF"]
    nff = [s.fracture for s in specs if s.label == "NFF"]
    # AFF: near-transverse, beak, no comminution; some incomplete (lateral cortex only)
    assert max(f.angle_deg for f in aff) <= 15.0
    assert all(f.beak > 0 and f.fragments == 0 for f in aff)
    assert 0.1 < np.mean([not f.complete for f in aff]) < 0.5
    assert 0.03 < np.mean([f.beak < 0.8 for f in aff]) < 0.4          # a few are subtle
    # NFF: oblique or spiral, often comminuted, more displaced, never beaked or incomplete
    angles = np.array([f.angle_deg for f in nff])
    assert angles.min() >= 15.0 and np.median(angles) > 30.0
    assert 0.05 < np.mean(angles < 30.0) < 0.4                         # some near-transverse
    assert all(f.beak == 0 and f.complete for f in nff)
    assert 0.4 < np.mean([f.fragments > 0 for f in nff]) < 0.95
    displacement = [math.hypot(f.shift, f.shortening) for f in nff]
    assert np.median(displacement) > 2 * np.median(
        [math.hypot(f.shift, f.shortening) for f in aff if f.complete])
    for s in specs:                                    # shaft zone only
        assert 60.0 < s.fracture.level < 0.8 * s.femur.length


def test_difficulty_makes_features_subtler():
    easy = _images(plan_study(PhantomConfig(patients=80, seed=4, difficulty=0.0, **SMALL)))
    hard = _images(plan_study(PhantomConfig(patients=80, seed=4, difficulty=1.0, **SMALL)))

    def mean(specs, fn, label):
        return np.mean([fn(s) for s in specs if s.label == label])

    assert mean(easy, lambda s: s.fracture.beak, "AFF") > 1.8 * mean(
        hard, lambda s: s.fracture.beak, "AFF")
    assert mean(hard, lambda s: s.acquisition.noise, "NFF") > 1.5 * mean(
        easy, lambda s: s.acquisition.noise, "NFF")
    assert mean(hard, lambda s: s.fracture.angle_deg < 30, "NFF") > mean(
        easy, lambda s: s.fracture.angle_deg < 30, "NFF")


def test_rois_hold_the_fracture_line_inside_the_image(plan200):
    for spec in _images(plan200)[:250]:
        g = layout(spec)
        x0, y0, x1, y1 = g.roi
        assert 0 <= x0 < x1 <= spec.width and 0 <= y0 < y1 <= spec.height, spec.name
        assert (g.line[:, 0] >= x0).all() and (g.line[:, 0] <= x1).all()
        assert (g.line[:, 1] >= y0).all() and (g.line[:, 1] <= y1).all()
        # the recorded angle is what the pixels show (bowed shaft: a little shear)
        assert g.measured_angle_deg() == pytest.approx(spec.fracture.angle_deg, abs=3.0)
        # the line starts at the lateral (AP) / anterior (lateral view) cortex: L -> image right
        axis_x = spec.acquisition.axis_x / spec.spacing
        side = g.entry[0] - axis_x - (g.entry[1] * g.axis_dir[0] / g.axis_dir[1])
        assert g.lateral_side == ("right" if spec.laterality == "L" else "left")
        assert np.sign(side) == (1 if spec.laterality == "L" else -1), spec.name
        # the entry is on the outer surface: about one shaft radius from the axis
        assert abs(side) * spec.spacing > 0.7 * spec.femur.shaft_radius
        # and the collimator never cuts into the ROI
        mask = collimation_mask(spec, build_scene(spec).frame)
        if mask is not None:
            assert mask[y0:y1, x0:x1].min() > 0.99, spec.name


# ---- pixels ----------------------------------------------------------------------------------

def test_render_is_deterministic_and_depends_on_the_seed():
    spec = plan_study(PhantomConfig(patients=2, seed=5, **SMALL))[0].images[0]
    a, b = render_image(spec), render_image(spec)
    assert a.pixels.dtype == np.uint16 and a.pixels.shape == (320, 256)
    assert a.pixels.max() <= MAX_VALUE and a.pixels.std() > 200
    np.testing.assert_array_equal(a.pixels, b.pixels)
    c = render_image(plan_study(PhantomConfig(patients=2, seed=6, **SMALL))[0].images[0])
    assert np.abs(a.pixels.astype(int) - c.pixels).mean() > 50


def test_full_size_render():
    spec = plan_study(PhantomConfig(patients=1, seed=8))[0].images[0]
    image = render_image(spec)
    assert image.pixels.shape == (2500, 2000) and image.pixels.dtype == np.uint16
    assert 0.15 <= spec.spacing <= 0.19
    x0, y0, x1, y1 = image.geometry.roi
    assert 0 <= x0 < x1 <= 2000 and 0 <= y0 < y1 <= 2500
    assert image.pixels[y0:y1, x0:x1].std() > 100


def test_cortex_is_bright_canal_darker_soft_tissue_darker_air_black(plan200):
    spec = _with(_first(plan200, view="AP", label="NFF"),
                 acquisition={"collimation": (0.0, 0.0, 0.0, 0.0), "collimation_deg": 0.0,
                              "ruler": -1.0, "implant": "none", "edge": 0.0})
    spec = dataclasses.replace(spec, height=640, width=512)
    image = render_image(spec, features=False)
    model = build_scene(spec, features=False).model
    frame = build_scene(spec, features=False).frame
    u = spec.fracture.level - 60.0
    ro, co, ri, ci = model.section(u)
    bow = float(model.bow(np.float32(u)))

    def value(w):
        x, y = frame.to_px(u, w + bow)
        return float(image.pixels[int(y) - 1:int(y) + 2, int(x) - 1:int(x) + 2].mean())

    walls = [value(co + ro - 0.5 * (ro - ri)), value(co - ro + 0.5 * (ro - ri))]
    canal, tissue = value(ci), value(co + ro + 15.0)
    x_air = 2 if spec.feature_side < 0 else spec.width - 3
    air = float(image.pixels[frame.to_px(u, 0.0)[1].astype(int), x_air])
    assert min(walls) > canal + 100 > tissue + 200 and tissue > air + 300
    assert air < 0.25 * MAX_VALUE


def test_fracture_and_beak_are_in_the_pixels(plan200):
    base = _first(plan200, label="AFF", view="AP", complete=True)
    spec = dataclasses.replace(_with(base, beak=3.0, endosteal=1.5, beak_length=8.0),
                               height=640, width=512)
    on, off = render_image(spec), render_image(spec, features=False)
    diff = np.abs(on.pixels.astype(float) - off.pixels)
    x0, y0, x1, y1 = on.geometry.roi
    inside = diff[y0:y1, x0:x1].mean()
    outside = (diff.sum() - diff[y0:y1, x0:x1].sum()) / (diff.size - (x1 - x0) * (y1 - y0))
    assert inside > 8 * outside
    # the beak: bone just outside the intact lateral surface, above the line
    scene = build_scene(spec, features=False)
    ro, co, _, _ = scene.model.section(spec.fracture.level)
    u = spec.fracture.level - 3.0
    x, y = scene.frame.to_px(u, co + ro + 1.0 + float(scene.model.bow(np.float32(u))))
    patch = (slice(int(y) - 1, int(y) + 2), slice(int(x) - 1, int(x) + 2))
    assert on.pixels[patch].mean() > off.pixels[patch].mean() + 150
    # NFF: no beak, the same spot is unchanged
    nff = dataclasses.replace(_first(plan200, label="NFF", view="AP"), height=640, width=512)
    on, off = render_image(nff), render_image(nff, features=False)
    scene = build_scene(nff, features=False)
    ro, co, _, _ = scene.model.section(nff.fracture.level - 40.0)
    u = nff.fracture.level - 40.0
    x, y = scene.frame.to_px(u, co + ro + 1.0 + float(scene.model.bow(np.float32(u))))
    patch = (slice(int(y) - 1, int(y) + 2), slice(int(x) - 1, int(x) + 2))
    assert abs(on.pixels[patch].mean() - off.pixels[patch].mean()) < 60


# ---- files -----------------------------------------------------------------------------------

@pytest.mark.parametrize("syntax", TRANSFER_SYNTAXES)
def test_every_transfer_syntax_decodes_to_the_stored_pixels(tmp_path, syntax):
    spec = plan_study(PhantomConfig(patients=1, seed=2, **SMALL))[0].images[0]
    image = render_image(spec)
    ds = pydicom.dcmread(write_dicom(image, tmp_path / "x.dcm", syntax))
    expected = {"explicit": "1.2.840.10008.1.2.1", "implicit": "1.2.840.10008.1.2",
                "rle": "1.2.840.10008.1.2.5", "jpeg2000": "1.2.840.10008.1.2.4.90"}[syntax]
    assert ds.file_meta.TransferSyntaxUID == expected
    np.testing.assert_array_equal(ds.pixel_array, image.stored())
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (16, 12, 11, 0)
    assert (ds.Rows, ds.Columns) == (320, 256)
    assert float(ds.PixelSpacing[0]) == pytest.approx(spec.spacing, rel=1e-5)


def test_monochrome1_is_inverted_monochrome2_is_display(tmp_path):
    spec = plan_study(PhantomConfig(patients=1, seed=2, **SMALL))[0].images[0]
    read = {}
    for photometric in ("MONOCHROME1", "MONOCHROME2"):
        image = render_image(_with(spec, acquisition={"photometric": photometric,
                                                      "rescale": None}))
        read[photometric] = pydicom.dcmread(write_dicom(image, tmp_path / f"{photometric}.dcm"))
    m1, m2 = read["MONOCHROME1"], read["MONOCHROME2"]
    assert m1.PhotometricInterpretation == "MONOCHROME1"
    np.testing.assert_array_equal(m2.pixel_array, image.pixels)
    np.testing.assert_array_equal(m1.pixel_array.astype(int), MAX_VALUE - image.pixels.astype(int))
    assert float(m1.WindowCenter) == pytest.approx(MAX_VALUE - float(m2.WindowCenter), abs=0.01)
    assert float(m1.WindowWidth) == pytest.approx(float(m2.WindowWidth))


def _digest(root, rows):
    return [hashlib.sha256((root / r.path).read_bytes()).hexdigest() for r in rows]


def test_generate_writes_a_deterministic_readable_study(tmp_path):
    config = PhantomConfig(patients=6, seed=2, png=True, **SMALL)
    calls = []
    study = generate(tmp_path / "a", config, workers=2,
                     progress=lambda done, total, path: calls.append((done, total, path)))
    rows = read_manifest(study.manifest)
    assert rows == study.rows and len(rows) == study.images
    assert [c[0] for c in calls] == list(range(1, len(rows) + 1))
    assert all(c[1] == len(rows) and c[2].is_file() for c in calls)
    with open(study.manifest, newline="") as fh:
        header = next(csv.reader(fh))
    assert tuple(header[:9]) == REQUIRED_COLUMNS and tuple(header) == MANIFEST_COLUMNS
    plan = {s.name: s for p in plan_study(config) for s in p.images}
    for row in rows:
        ds = pydicom.dcmread(study.root / row.path)
        assert ds.PatientID == row.patient_id and str(ds.PatientName).endswith(row.patient_id)
        assert ds.Modality == row.modality in ("CR", "DX")
        assert ds.ViewPosition == {"AP": "AP", "lateral": "LL"}[row.view]
        laterality = ds.ImageLaterality if ds.Modality == "DX" else ds.Laterality
        assert laterality == row.laterality
        assert ds.PhotometricInterpretation == row.photometric
        assert len(ds.StudyDate) == 8 and ds.SOPInstanceUID.startswith("1.2.826.0.1.3680043")
        stored = ds.pixel_array.astype(int)
        display = MAX_VALUE - stored if row.photometric == "MONOCHROME1" else stored
        image = render_image(plan[row.path.rsplit("/", 1)[1][:-4]])
        np.testing.assert_array_equal(display, image.pixels)
        with Image.open(study.root / row.png_path) as png:
            np.testing.assert_array_equal(np.asarray(png), png_values(image))
        assert 0 <= row.roi_x0 < row.roi_x1 <= 256 and 0 <= row.roi_y0 < row.roi_y1 <= 320
    assert len({r.patient_id for r in rows}) == 6
    assert len({ds_uid(study.root, r) for r in rows}) == len(rows)

    again = generate(tmp_path / "b", config, workers=1)
    assert (again.manifest.read_text() == study.manifest.read_text())
    assert _digest(again.root, again.rows) == _digest(study.root, rows)
    other = generate(tmp_path / "c", dataclasses.replace(config, seed=3, png=False), workers=1)
    assert set(_digest(other.root, other.rows)).isdisjoint(_digest(study.root, rows))


def ds_uid(root, row):
    return pydicom.dcmread(root / row.path, stop_before_pixels=True).SOPInstanceUID


def test_generate_refuses_a_folder_with_a_study(tmp_path):
    config = PhantomConfig(patients=1, seed=1, **SMALL)
    first = generate(tmp_path, config, workers=1)
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(PhantomError, match="overwrite"):
        generate(tmp_path, dataclasses.replace(config, seed=2), workers=1)
    assert first.manifest.read_text() == (tmp_path / "manifest.csv").read_text()
    second = generate(tmp_path, dataclasses.replace(config, seed=2), workers=1, overwrite=True)
    assert second.rows != first.rows and (tmp_path / "notes.txt").read_text() == "keep me"
    assert json.loads((tmp_path / "phantom.json").read_text())["seed"] == 2


def test_cli_phantom_writes_a_study_and_reports(tmp_path, capsys):
    import argparse

    from engine.cli import CliError, _phantom

    parser = argparse.ArgumentParser()
    _phantom.add_parser(parser.add_subparsers())
    args = parser.parse_args(["phantom", "--out", str(tmp_path / "s"), "--patients", "3",
                              "--seed", "4", "--size", "256x208", "--aff-share", "0.34",
                              "--workers", "1", "--difficulty", "0.2"])
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    rows = read_manifest(tmp_path / "s" / "manifest.csv")
    assert f"wrote {len(rows)} images of 3 patients" in out and "33.3% of patients" in out
    assert "phantom: " in err and f"{len(rows)}/{len(rows)} (100%" in err
    assert {r.difficulty for r in rows} == {0.2}
    with pytest.raises(CliError, match="overwrite"):
        args.func(args)
    bad = parser.parse_args(["phantom", "--out", str(tmp_path / "t"), "--patients", "0"])
    with pytest.raises(CliError, match="patients"):
        bad.func(bad)
    with pytest.raises(SystemExit):
        parser.parse_args(["phantom", "--out", "x", "--patients", "1", "--size", "big"])
