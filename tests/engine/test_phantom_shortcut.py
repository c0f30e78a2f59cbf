"""``--shortcut marker``: a burned-in site marker on a share of AFF and NFF images, recorded
in the manifest and kept by the import apart from the fracture ROIs (issue 15, section 4)."""

import argparse
import csv
import dataclasses

import numpy as np
import pytest

from engine.io import import_sources
from engine.phantom import (
    MANIFEST_COLUMNS,
    PhantomConfig,
    PhantomError,
    plan_study,
    read_manifest,
    render_image,
)
from engine.phantom._acquire import MAX_VALUE
from engine.phantom._shortcut import glyph, marker_region
from engine.store import SITE_MARKER_SOURCE, Project

SMALL = {"height": 256, "width": 208}


def _specs(config):
    return [s for p in plan_study(config) for s in p.images]


def test_defaults_plant_nothing_and_bad_values_are_refused():
    config = PhantomConfig()
    assert (config.shortcut, config.shortcut_aff_share, config.shortcut_nff_share) == (
        "none", 0.8, 0.1)
    assert all(s.acquisition.site_marker is None
               for s in _specs(PhantomConfig(patients=20, seed=1, **SMALL)))
    with pytest.raises(PhantomError, match="shortcut must be one of none, marker"):
        PhantomConfig(shortcut="text")
    with pytest.raises(PhantomError, match="shortcut_aff_share must be in 0..1"):
        PhantomConfig(shortcut="marker", shortcut_aff_share=1.5)


@pytest.mark.parametrize(("aff_share", "nff_share"), [(0.8, 0.1), (0.5, 0.0), (1.0, 0.25)])
def test_shares_are_exact_per_label(aff_share, nff_share):
    config = PhantomConfig(patients=60, seed=4, aff_share=0.4, shortcut="marker",
                           shortcut_aff_share=aff_share, shortcut_nff_share=nff_share, **SMALL)
    specs = _specs(config)
    for label, share in (("AFF", aff_share), ("NFF", nff_share)):
        mine = [s for s in specs if s.label == label]
        marked = sum(s.acquisition.site_marker is not None for s in mine)
        assert marked == round(share * len(mine)), label


def test_the_shortcut_changes_nothing_but_the_marked_boxes():
    clean = PhantomConfig(patients=8, seed=6, aff_share=0.5, **SMALL)
    planted = dataclasses.replace(clean, shortcut="marker", shortcut_nff_share=0.3)
    region = marker_region(SMALL["height"], SMALL["width"])
    cells = glyph()
    seen = 0
    for a, b in zip(_specs(clean), _specs(planted), strict=True):
        assert dataclasses.replace(b, acquisition=dataclasses.replace(
            b.acquisition, site_marker=None)) == a           # the same plan otherwise
        pa, pb = render_image(a).pixels, render_image(b).pixels
        box = b.acquisition.site_marker
        if box is None:
            np.testing.assert_array_equal(pa, pb)
            continue
        seen += 1
        x0, y0, x1, y1 = box
        assert region[0] <= x0 < x1 <= region[2] and region[1] <= y0 < y1 <= region[3]
        outside = np.ones(pa.shape, bool)
        outside[y0:y1, x0:x1] = False
        np.testing.assert_array_equal(pa[outside], pb[outside])
        inside = pb[y0:y1, x0:x1]
        c = (x1 - x0) // cells.shape[1]
        assert (x1 - x0, y1 - y0) == (cells.shape[1] * c, cells.shape[0] * c)
        np.testing.assert_array_equal(inside == MAX_VALUE, np.kron(cells, np.ones((c, c), bool)))
        assert set(np.unique(inside).tolist()) == {0, MAX_VALUE}
        roi = render_image(b).geometry.roi                    # well clear of the fracture
        assert x1 <= roi[0] or x0 >= roi[2] or y1 <= roi[1] or y0 >= roi[3]
    assert seen >= 5


def _cli(tmp_path, *extra):
    from engine.cli import _phantom

    parser = argparse.ArgumentParser()
    _phantom.add_parser(parser.add_subparsers())
    args = parser.parse_args(["phantom", "--out", str(tmp_path), "--patients", "6", "--seed", "3",
                              "--size", "256x208", "--aff-share", "0.5", "--workers", "1",
                              *extra])
    assert args.func(args) == 0
    return read_manifest(tmp_path / "manifest.csv")


def test_manifest_records_the_box_and_the_import_keeps_it_apart(tmp_path, capsys):
    rows = _cli(tmp_path / "s", "--shortcut", "marker", "--shortcut-aff-share", "0.75",
                "--shortcut-nff-share", "0.2", "--confounds", "none", "--png")
    out = capsys.readouterr().out
    aff = [r for r in rows if r.label == "AFF"]
    nff = [r for r in rows if r.label == "NFF"]
    marked = [r for r in rows if r.site_marker_x0 is not None]
    assert marked and len(marked) < len(rows)
    assert f"site marker on {round(0.75 * len(aff))}/{len(aff)} AFF images, " \
           f"{round(0.2 * len(nff))}/{len(nff)} NFF images" in out
    assert MANIFEST_COLUMNS[-4:] == ("site_marker_x0", "site_marker_y0", "site_marker_x1",
                                     "site_marker_y1")
    with open(tmp_path / "s" / "manifest.csv", newline="") as fh:
        raw = list(csv.DictReader(fh))
    for row, text in zip(rows, raw, strict=True):
        cols = [text[c] for c in MANIFEST_COLUMNS[-4:]]
        assert cols == ["", "", "", ""] if row.site_marker_x0 is None else all(cols)
    # the recorded box is where the glyph is, in the DICOM and the PNG
    import pydicom
    from PIL import Image

    for row in rows:
        ds = pydicom.dcmread(tmp_path / "s" / row.path)
        px = ds.pixel_array.astype(int)
        display = MAX_VALUE - px if row.photometric == "MONOCHROME1" else px
        with Image.open(tmp_path / "s" / row.png_path) as png:
            png_display = np.asarray(png).astype(int) >> 4
        np.testing.assert_array_equal(display, png_display)
        if row.site_marker_x0 is not None:
            x0, y0, x1, y1 = (row.site_marker_x0, row.site_marker_y0, row.site_marker_x1,
                              row.site_marker_y1)
            inside = display[y0:y1, x0:x1]
            assert set(np.unique(inside).tolist()) == {0, MAX_VALUE}
            assert display[y0, x0:x1].max() == 0 == display[y0:y1, x0].max()   # the plate border

    with Project.create(tmp_path / "Study") as project:
        report = import_sources(project, [tmp_path / "s" / "dicom"],
                                tmp_path / "s" / "manifest.csv", workers=1)
        assert report.added == len(rows) and not report.errors
        by_path = {project.images.get(i).path: i for i in
                   [r[0] for r in project.query("SELECT id FROM images")]}
        fractures, markers = project.rois.all(), project.rois.all(markers=True)
        assert len(fractures) == len(rows) and len(markers) == len(marked)
        assert {r.source for r in fractures} == {"import"}
        assert {r.source for r in markers} == {SITE_MARKER_SOURCE}
        for row in rows:
            image_id = next(i for p, i in by_path.items() if p.endswith(row.path.split("/")[-1]))
            (roi,) = project.rois.for_image(image_id)
            assert (roi.x0, roi.y0, roi.x1, roi.y1) == (row.roi_x0, row.roi_y0, row.roi_x1,
                                                        row.roi_y1)
            boxes = [(m.x0, m.y0, m.x1, m.y1) for m in project.rois.for_image(image_id,
                                                                                markers=True)]
            want = (row.site_marker_x0, row.site_marker_y0, row.site_marker_x1, row.site_marker_y1)
            assert boxes == ([] if row.site_marker_x0 is None else [want])
        # a second import stores nothing twice
        import_sources(project, [tmp_path / "s" / "dicom"], tmp_path / "s" / "manifest.csv",
                       workers=1)
        assert len(project.rois.all(markers=True)) == len(marked)
        assert len(project.rois.all()) == len(rows)


def test_default_cli_study_has_empty_marker_columns(tmp_path):
    rows = _cli(tmp_path / "d")
    assert rows and all(r.site_marker_x0 is None and r.site_marker_y1 is None for r in rows)
