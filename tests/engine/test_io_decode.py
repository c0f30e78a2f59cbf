"""DICOM decoding: every transfer syntax, the display chain and the metadata."""

import numpy as np
import pydicom
import pytest

from engine.io import ImageReadError, read_image
from tests.engine._dicom_factory import SYNTAXES, femur_like, image_dataset, write_dicom

# (syntax, bits): baseline JPEG is 8-bit only, extended JPEG 12-bit.
CASES = [("jpeg_baseline", 8), ("jpeg_extended", 12)] + [
    (name, bits) for name in SYNTAXES
    if not name.startswith("jpeg_") or name.startswith("jpeg_lossless")
    for bits in (8, 12, 16)
]


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
@pytest.mark.parametrize(("syntax", "bits"), CASES)
def test_every_transfer_syntax_decodes(tmp_path, syntax, bits, photometric):
    source = femur_like(40, 32, bits, seed=bits)
    path = write_dicom(tmp_path / "x.dcm", source, syntax, bits_stored=bits,
                       photometric=photometric)
    image = read_image(path)
    uid, lossless = SYNTAXES[syntax]
    assert image.meta.transfer_syntax == str(uid)
    assert image.codes.shape == source.shape
    diff = np.abs(image.codes.astype(np.int64) - source.astype(np.int64))
    if lossless:
        assert diff.max() == 0
    else:  # lossy: close to the source, relative to the bit depth
        assert diff.mean() < 0.01 * 2**bits and diff.max() < 0.05 * 2**bits
    grey = image.to_uint8()
    # Bone (the bright band in the middle) must be bright after MONOCHROME1 inversion too.
    bone, soft = grey[:, 14:18].mean(), grey[:, :4].mean()
    if photometric == "MONOCHROME2":
        assert bone > soft + 50
    else:
        assert bone < soft - 50  # stored inverted: the viewer flips it back
    assert image.display.invert is (photometric == "MONOCHROME1")


def test_monochrome1_display_is_inverted_monochrome2(tmp_path):
    source = femur_like(30, 20, 12)
    m2 = read_image(write_dicom(tmp_path / "a.dcm", source, window=(2000, 3000)))
    m1 = read_image(write_dicom(tmp_path / "b.dcm", source, window=(2000, 3000),
                                photometric="MONOCHROME1"))
    assert np.abs(m1.to_uint8().astype(int) + m2.to_uint8() - 255).max() <= 1


def _linear(x, c, w):
    """DICOM PS3.3 C.11.2.1.2.1 LINEAR window, written out independently."""
    y = np.where(x <= c - 0.5 - (w - 1) / 2, 0.0,
                 np.where(x > c - 0.5 + (w - 1) / 2, 1.0, ((x - (c - 0.5)) / (w - 1) + 0.5)))
    return y


def test_rescale_then_window_numerically(tmp_path):
    source = np.arange(0, 4096, 16, dtype=np.uint16).reshape(16, 16)
    path = write_dicom(tmp_path / "r.dcm", source, bits_stored=12, rescale=(2.0, -1000.0),
                       window=(1000, 2001))
    image = read_image(path)
    values = source * 2.0 - 1000.0
    np.testing.assert_allclose(image.pixels, values)
    assert image.pixels.dtype == np.float32
    np.testing.assert_allclose(image.pixels, pydicom.pixels.apply_modality_lut(
        source, pydicom.dcmread(path)))
    want = np.rint(_linear(values, 1000, 2001) * 255)
    assert np.array_equal(image.to_uint8(), want.astype(np.uint8))
    assert (image.window.center, image.window.width, image.window.source) == (1000, 2001, "file")


def test_monochrome1_with_rescale_inverts_after_window(tmp_path):
    source = np.arange(0, 4096, 16, dtype=np.uint16).reshape(16, 16)
    path = write_dicom(tmp_path / "r.dcm", source, bits_stored=12, rescale=(0.5, 10.0),
                       window=(900, 1200), photometric="MONOCHROME1")
    want = np.rint((1.0 - _linear(source * 0.5 + 10.0, 900, 1200)) * 255)
    assert np.array_equal(read_image(path).to_uint8(), want.astype(np.uint8))


def test_first_of_several_windows_and_window_functions(tmp_path):
    source = np.arange(0, 4096, 16, dtype=np.uint16).reshape(16, 16)
    image = read_image(write_dicom(tmp_path / "m.dcm", source, bits_stored=12,
                                   window=([1500, 3000], [1000, 400])))
    assert (image.window.center, image.window.width) == (1500, 1000)
    exact = read_image(write_dicom(tmp_path / "e.dcm", source, bits_stored=12,
                                   window=(2048, 1024), voi_function="LINEAR_EXACT"))
    x = source.astype(np.float64)
    want = np.clip((x - 2048) / 1024 + 0.5, 0, 1)
    assert np.abs(exact.to_uint8() - np.rint(want * 255)).max() == 0
    sigmoid = read_image(write_dicom(tmp_path / "s.dcm", source, bits_stored=12,
                                     window=(2048, 1024), voi_function="SIGMOID"))
    want = 1 / (1 + np.exp(-4 * (x - 2048) / 1024))
    assert np.abs(sigmoid.to_uint8() - np.rint(want * 255)).max() == 0


def test_voi_lut_sequence_when_no_window(tmp_path):
    source = np.arange(0, 4096, 16, dtype=np.uint16).reshape(16, 16)
    table = np.rint(np.sqrt(np.arange(4096) / 4095) * 4095).astype(np.uint16)
    image = read_image(write_dicom(tmp_path / "v.dcm", source, bits_stored=12,
                                   voi_lut=(0, 12, table)))
    assert image.window.source == "voi_lut"
    want = np.rint(table[source] / 4095 * 255)
    assert np.abs(image.to_uint8().astype(int) - want).max() <= 1


def test_modality_lut_sequence(tmp_path):
    source = np.arange(0, 1024, 4, dtype=np.uint16).reshape(16, 16)
    table = (np.arange(1024) * 3).astype(np.uint16)
    path = write_dicom(tmp_path / "ml.dcm", source, bits_stored=10, modality_lut=(0, 16, table),
                       window=(1536, 3072))
    image = read_image(path)
    np.testing.assert_allclose(image.pixels, table[source])


def test_percentile_window_when_the_file_has_none(tmp_path):
    source = femur_like(80, 60, 12)
    image = read_image(write_dicom(tmp_path / "p.dcm", source, bits_stored=12))
    window = image.window
    assert window.source == "percentile"
    low, high = window.center - window.width / 2, window.center + window.width / 2
    assert abs(low - np.percentile(source, 0.5)) <= 2
    assert abs(high - np.percentile(source, 99.5)) <= 2
    grey = image.to_uint8()
    assert np.mean(grey == 0) <= 0.01 and np.mean(grey == 255) <= 0.01


def test_bits_stored_masks_garbage_high_bits(tmp_path):
    source = femur_like(32, 24, 12)
    dirty = source | np.uint16(0xA000)  # overlay / garbage in bits 13 and 15
    path = write_dicom(tmp_path / "g.dcm", dirty, bits_stored=12, window=(2048, 4096))
    assert np.array_equal(read_image(path).codes, source)
    # pydicom >= 3 masks them as well (correct_unused_bits); both agree.
    assert np.array_equal(pydicom.dcmread(path).pixel_array, source)


def test_signed_data_is_sign_extended_from_bits_stored(tmp_path):
    values = np.linspace(-2048, 2047, 16 * 16).astype(np.int16).reshape(16, 16)
    dirty = ((values.view(np.uint16) & 0x0FFF) | 0x3000).view(np.int16)  # garbage high bits
    image = read_image(write_dicom(tmp_path / "s.dcm", dirty, bits_stored=12, signed=True,
                                   window=(0, 4096)))
    assert np.array_equal(image.codes, values)
    assert image.code_range == (-2048, 2047)


def test_raw_dataset_without_preamble_or_meta(tmp_path):
    source = femur_like(20, 16, 12)
    path = write_dicom(tmp_path / "IM0001", source, "implicit", preamble=False, bits_stored=12)
    image = read_image(path)
    assert np.array_equal(image.codes, source)
    assert image.meta.transfer_syntax == "1.2.840.10008.1.2"


@pytest.mark.parametrize("syntax", ["explicit", "jpegls"])
def test_multi_frame_takes_the_first_frame_and_says_so(tmp_path, syntax):
    frames = np.stack([femur_like(24, 20, 12, seed=s) for s in range(3)])
    image = read_image(write_dicom(tmp_path / "mf.dcm", frames, syntax, bits_stored=12))
    assert np.array_equal(image.codes, frames[0])
    assert image.meta.frames == 3
    assert any("first frame" in note for note in image.notes)


def test_rgb_dicom_becomes_grey(tmp_path):
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    image = read_image(write_dicom(tmp_path / "c.dcm", rgb, photometric="RGB"))
    assert image.codes.shape == (10, 12)
    assert int(image.codes[0, 0]) == round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)
    assert image.meta.photometric == "RGB"


def test_metadata(tmp_path):
    path = write_dicom(tmp_path / "m.dcm", femur_like(30, 20, 12), bits_stored=12,
                       patient_id="PAT-7", view="PA", laterality=None, pixel_spacing=None,
                       imager_spacing=(0.2, 0.25), window=(2000, 4000))
    ds = pydicom.dcmread(path)
    ds.Laterality = "R"
    ds.save_as(path)
    meta = read_image(path).meta
    assert (meta.width, meta.height, meta.bits_stored) == (20, 30, 12)
    assert (meta.view, meta.laterality, meta.patient_id) == ("AP", "R", "PAT-7")
    assert (meta.pixel_spacing_row, meta.pixel_spacing_col) == (0.2, 0.25)
    assert meta.study_uid == ds.StudyInstanceUID and meta.sop_uid == ds.SOPInstanceUID
    assert meta.series_uid == ds.SeriesInstanceUID
    assert (meta.modality, meta.study_date, meta.photometric) == ("DX", "2024-01-02",
                                                                 "MONOCHROME2")


@pytest.mark.parametrize(("position", "view"), [("AP", "AP"), ("PA", "AP"), ("LL", "lateral"),
                                                ("RL", "lateral"), ("LAT", "lateral"),
                                                ("LATERAL", "lateral"), ("OBL", None)])
def test_view_position_mapping(tmp_path, position, view):
    path = write_dicom(tmp_path / "v.dcm", femur_like(8, 8, 12), bits_stored=12, view=position)
    assert read_image(path).meta.view == view


def test_inconsistent_headers_are_refused(tmp_path):
    ds = image_dataset(femur_like(16, 16, 12), bits_stored=12)
    ds.PixelData = ds.PixelData + b"\0" * 64
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.save_as(tmp_path / "long.dcm", enforce_file_format=True)
    with pytest.raises(ImageReadError, match="needs 512"):
        read_image(tmp_path / "long.dcm")
    ds = image_dataset(femur_like(16, 16, 12), bits_stored=12)
    ds.Rows = 0
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.save_as(tmp_path / "rows0.dcm", enforce_file_format=True)
    with pytest.raises(ImageReadError, match="Rows=0"):
        read_image(tmp_path / "rows0.dcm")


def test_signed_16_bit_without_window_uses_percentiles(tmp_path):
    values = np.linspace(-30000, 30000, 40 * 30).astype(np.int16).reshape(40, 30)
    image = read_image(write_dicom(tmp_path / "ct.dcm", values, bits_stored=16, signed=True,
                                   rescale=(1.0, -1024.0)))
    assert image.window.source == "percentile"
    low = image.window.center - image.window.width / 2
    assert abs(low - (np.percentile(values, 0.5) - 1024)) < 100
    grey = image.to_uint8()
    assert grey[0, 0] == 0 and grey[-1, -1] == 255 and np.all(np.diff(grey.ravel()) >= 0)


def test_32_bit_data_goes_through_pydicom(tmp_path):
    values = (np.arange(16 * 16, dtype=np.uint32) * 400).reshape(16, 16)
    image = read_image(write_dicom(tmp_path / "u32.dcm", values, window=(50000, 100000)))
    assert np.array_equal(image.codes, values)
    assert image.code_range == (0, int(values.max()))
    want = np.rint(_linear(values.astype(np.float64), 50000, 100000) * 255)
    assert np.array_equal(image.to_uint8(), want.astype(np.uint8))


def test_1_bit_data(tmp_path):
    from pydicom.pixels import pack_bits

    bits = (np.arange(16 * 16).reshape(16, 16) % 3 == 0).astype(np.uint8)
    ds = image_dataset(bits, bits_stored=1)
    ds.BitsAllocated, ds.HighBit, ds.PixelData = 1, 0, pack_bits(bits)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.save_as(tmp_path / "b1.dcm", enforce_file_format=True)
    image = read_image(tmp_path / "b1.dcm")
    assert np.array_equal(image.codes, bits) and image.code_range == (0, 1)
    assert np.array_equal(image.to_uint8(), bits * 255)
