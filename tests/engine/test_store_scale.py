"""The store at browser scale: listings built the fast way, thumbnails read without a map."""

from __future__ import annotations

import dataclasses
import gc
import threading
from pathlib import Path

import numpy as np
import pytest

from engine.store import THUMB_SIDE, ImageFilter, ImageRow, Project
from tests.engine._store_factory import add_images


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "Study") as p:
        yield p


def mapped_paths() -> set[str]:
    """Files mapped into this process (Linux)."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("needs /proc/self/maps")
    return {line.split(maxsplit=5)[5] for line in maps.read_text().splitlines() if len(line.split()) > 5}


def test_listing_equals_the_checked_rows(project):
    ids = add_images(project, 12, patients=4)
    project.labels.set(ids[3], "AFF", reader="r")
    project.labels.set(ids[7], "exclude", reader="r")
    listed = project.images.list()
    assert [r.id for r in listed] == project.images.ids()
    for row in listed:
        checked = project.images.get(row.id)  # the ImageRow(**...) path
        assert row == checked and hash(row) == hash(checked)
        assert dataclasses.asdict(row) == dataclasses.asdict(checked)
        assert isinstance(row, ImageRow) and not hasattr(row, "__dict__")  # slots
    assert {r.label for r in listed} == {None, "AFF", "exclude"}
    # still a frozen dataclass, and replace() still works on it
    with pytest.raises(dataclasses.FrozenInstanceError):
        listed[0].label = "NFF"
    assert dataclasses.replace(listed[0], label="NFF").label == "NFF"
    assert [r.id for r in project.images.list(ImageFilter(label="AFF"))] == [ids[3]]
    assert [r.id for r in project.images.list(order="id")] == sorted(ids)


def test_listing_shares_repeated_strings(project):
    add_images(project, 6, patients=2, folder="/data/site-a")
    rows = project.images.list()
    assert len({id(r.source_folder) for r in rows}) == 1
    assert len({id(r.view) for r in rows}) == 2  # AP and lateral
    assert len({id(r.path) for r in rows}) == 6  # unique values stay their own


def test_thumb_reads_a_copy_without_mapping_the_slot_file(project):
    (i, j, k) = add_images(project, 3)
    rng = np.random.default_rng(1)
    thumb = rng.integers(0, 255, (THUMB_SIDE, 171), dtype=np.uint8)
    project.cache.write_thumb(j, thumb)
    project.cache.write_thumb(k, thumb[:100, :80])
    before = mapped_paths()
    got = project.cache.thumb(j, THUMB_SIDE, 171)
    assert np.array_equal(got, thumb) and not isinstance(got, np.memmap)
    assert got.flags.c_contiguous and got.shape == (THUMB_SIDE, 171)
    assert np.array_equal(project.cache.thumb(k, 100, 80), thumb[:100, :80])
    assert np.array_equal(project.cache.thumb(j, 10, 20), thumb[:10, :20])  # a corner
    assert not project.cache.thumb(i, 10, 10).any()  # a slot below j: zeros
    assert project.cache.thumb(k + 1, 10, 10) is None  # past the end of the file
    # the same pixels as the slots memory map (the rebuild's whole-file view)
    assert np.array_equal(project.cache.thumbs()[j, :THUMB_SIDE, :171], got)
    project.cache.write_thumb(j, np.zeros((10, 10), np.uint8))
    assert np.array_equal(got, thumb)  # a copy: rewriting the slot does not change it
    thumbs = str(project.cache.thumbs_path)
    project.cache._thumbs = None  # drop the map thumbs() made above
    gc.collect()
    assert thumbs not in mapped_paths() - before
    for _ in range(50):
        project.cache.thumb(j, THUMB_SIDE, 171)
    assert thumbs not in mapped_paths()


def test_thumb_without_a_slot_file(tmp_path):
    from engine.store import ImageCache

    assert ImageCache(tmp_path / "cache").thumb(1, 10, 10) is None


def test_thumb_reads_from_many_threads(project):
    ids = add_images(project, 16)
    for image_id in ids:
        project.cache.write_thumb(image_id, np.full((40, 30), image_id, np.uint8))
    errors = []

    def read() -> None:
        for _ in range(20):
            for image_id in ids:
                got = project.cache.thumb(image_id, 40, 30)
                if got is None or not (got == image_id).all():
                    errors.append(image_id)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
