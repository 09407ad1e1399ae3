"""Inputs orthoplan must refuse, each with its own exception and a message without the patient's name."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate, get_frame
from pydicom.uid import ComprehensiveSRStorage, RLELossless

from orthoplan import image
from orthoplan.errors import CorruptImageError, InputNotFoundError, OrthoplanError, UnsupportedImageError


def _refused(path_or_source, exc_type, secret_name, *words, **kwargs) -> str:
    with pytest.raises(exc_type) as info:
        image.load(path_or_source, **kwargs)
    msg = str(info.value)
    assert secret_name not in msg and "SECRET" not in msg
    assert "\n" not in msg, "one-line message"
    for w in words:
        assert w.lower() in msg.lower(), (w, msg)
    # never a numpy/pydicom traceback: the cause chain is suppressed
    assert info.value.__cause__ is None
    return msg


def test_missing_file(tmp_path: Path, secret_name):
    missing = tmp_path / "nope.dcm"
    msg = _refused(missing, InputNotFoundError, secret_name, "file not found", str(missing))
    assert msg == f"file not found: {missing}"
    assert issubclass(InputNotFoundError, OrthoplanError) and issubclass(InputNotFoundError, FileNotFoundError)


def test_truncated_copy_of_the_hip(tmp_path: Path, hip_path: Path, secret_name):
    data = hip_path.read_bytes()
    bad = tmp_path / "truncated.dcm"
    bad.write_bytes(data[: len(data) // 2])  # header intact, pixel data cut in half
    _refused(bad, CorruptImageError, secret_name, "truncated")
    # the same from bytes
    _refused(data[: len(data) // 2], CorruptImageError, secret_name, "truncated")


def test_truncated_inside_the_header(tmp_path: Path, hip_path: Path, secret_name):
    bad = tmp_path / "header.dcm"
    bad.write_bytes(hip_path.read_bytes()[:700])
    with pytest.raises(CorruptImageError):
        image.load(bad)


@pytest.mark.parametrize(
    "content",
    [b"hello, this is not an image\n" * 20, b"\x00" * 400, b"GIF89a" + b"\x00" * 300],
    ids=["text", "zeros", "gif"],
)
def test_not_an_image(tmp_path: Path, content: bytes, secret_name):
    bad = tmp_path / "x.dcm"
    bad.write_bytes(content)
    _refused(bad, CorruptImageError, secret_name, "not a DICOM, PNG or TIFF file")
    _refused(content, CorruptImageError, secret_name, "not a DICOM")


def test_empty_file(tmp_path: Path, secret_name):
    for name in ("empty.dcm", "empty.png"):
        bad = tmp_path / name
        bad.write_bytes(b"")
        _refused(bad, CorruptImageError, secret_name, "empty")
    _refused(b"", CorruptImageError, secret_name, "empty")


def test_text_file_with_png_suffix(tmp_path: Path, secret_name):
    bad = tmp_path / "x.png"
    bad.write_text("not a png")
    _refused(bad, CorruptImageError, secret_name, "not a DICOM, PNG or TIFF file")


def test_directory(tmp_path: Path, secret_name):
    _refused(tmp_path, CorruptImageError, secret_name, "directory")


def test_rgb_secondary_capture(tmp_path: Path, make_ds, save, secret_name):
    rgb = np.zeros((16, 20, 3), np.uint8)
    ds = make_ds(rgb, photometric="RGB", sop_class=pydicom.uid.SecondaryCaptureImageStorage, modality="OT")
    ds.PlanarConfiguration = 0
    _refused(save(ds, tmp_path / "rgb.dcm"), UnsupportedImageError, secret_name, "colour", "RGB")
    ds2 = make_ds(np.zeros((8, 8), np.uint8), photometric="PALETTE COLOR", modality="OT")
    _refused(ds2, UnsupportedImageError, secret_name, "colour", "PALETTE")


def test_multiframe(tmp_path: Path, make_ds, save, secret_name):
    frames = np.zeros((3, 16, 20), np.uint16)
    ds = make_ds(frames[0], modality="XA")
    ds.NumberOfFrames = 3
    ds.PixelData = frames.tobytes()
    _refused(save(ds, tmp_path / "mf.dcm"), UnsupportedImageError, secret_name, "multi-frame", "3 frames")


def test_structured_report_has_no_pixels(tmp_path: Path, make_ds, save, secret_name):
    sr = make_ds(None, sop_class=ComprehensiveSRStorage, modality="SR")
    for kw in ("Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
               "SamplesPerPixel", "PhotometricInterpretation"):
        delattr(sr, kw)
    sr.ValueType = "CONTAINER"
    msg = _refused(save(sr, tmp_path / "sr.dcm"), UnsupportedImageError, secret_name, "no pixel data")
    assert "Comprehensive SR" in msg


def test_image_header_without_pixel_data_is_incomplete(tmp_path: Path, make_ds, save, secret_name):
    ds = make_ds(None, rows=100, columns=100)
    _refused(save(ds, tmp_path / "nopix.dcm"), CorruptImageError, secret_name, "no pixel data", "incomplete")
    # a non-image object with image-like attributes but no pixels is not an image
    ds.SOPClassUID = pydicom.uid.GrayscaleSoftcopyPresentationStateStorage
    _refused(ds, UnsupportedImageError, secret_name, "Presentation State", "no pixel data")


def test_zero_rows(tmp_path: Path, make_ds, save, secret_name):
    ds = make_ds(None, rows=0, columns=512)
    ds.PixelData = b""
    _refused(save(ds, tmp_path / "zero.dcm"), UnsupportedImageError, secret_name, "0 rows")


def test_absurdly_large_header_refused_before_decoding(tmp_path: Path, make_ds, save, secret_name):
    # 100000 does not fit the US VR of Rows/Columns; 65535 x 65535 = 4.3e9 pixels is the most a
    # header can claim. The few bytes of pixel data would fail as "truncated" if decoding came first.
    ds = make_ds(None, rows=65535, columns=65535)
    ds.PixelData = b"\x00\x00" * 8
    path = save(ds, tmp_path / "huge.dcm")
    _refused(path, UnsupportedImageError, secret_name, "65535 x 65535", "limit")
    del ds.PixelData
    _refused(save(ds, tmp_path / "huge_nopix.dcm"), UnsupportedImageError, secret_name, "65535 x 65535")
    # and a configurable limit
    small = make_ds(np.zeros((100, 100), np.uint16))
    _refused(small, UnsupportedImageError, secret_name, "limit", max_pixels=9_999)
    assert image.load(small, max_pixels=10_000).shape == (100, 100)


def test_corrupted_jpeg2000_codestream(tmp_path: Path, real_dir: Path, secret_name):
    ds = pydicom.dcmread(real_dir / "hip_cr_rg2_j2k.dcm")
    ds.PatientName = secret_name
    frame = get_frame(ds.PixelData, 0, number_of_frames=1)
    # overwrite the main header (SIZ/COD marker segments) after the SOC marker
    damaged = frame[:4] + bytes(range(7, 67)) + frame[64:]
    ds.PixelData = encapsulate([damaged])
    path = tmp_path / "bad_j2k.dcm"
    ds.save_as(path)
    msg = _refused(path, CorruptImageError, secret_name, "JPEG 2000", "1.2.840.10008.1.2.4.90",
                   "pylibjpeg-openjpeg")
    assert "damaged" in msg
    # a truncated codestream too
    ds.PixelData = encapsulate([frame[:2000]])
    ds.save_as(path)
    _refused(path, CorruptImageError, secret_name, "JPEG 2000")


def test_compressed_without_decoder_names_the_package(make_ds, secret_name, monkeypatch):
    from pydicom.pixels import get_decoder

    ds = make_ds(np.arange(64, dtype=np.uint16).reshape(8, 8))
    ds.compress(RLELossless)
    decoder = get_decoder(RLELossless)
    monkeypatch.setattr(type(decoder), "is_available", property(lambda self: False))
    _refused(ds, CorruptImageError, secret_name, "no decoder installed", "RLE Lossless", "pylibjpeg-rle")


def test_float_pixel_data(make_ds, secret_name):
    ds = make_ds(None, rows=4, columns=4)
    ds.FloatPixelData = np.zeros(16, np.float32).tobytes()
    _refused(ds, UnsupportedImageError, secret_name, "float pixel data")


def test_pixel_data_of_the_wrong_size_from_a_dataset(make_ds, secret_name):
    ds = make_ds(np.zeros((10, 10), np.uint16))
    ds.PixelData = ds.PixelData[:100]
    _refused(ds, CorruptImageError, secret_name, "truncated")


def test_logs_never_contain_the_patient_name(tmp_path, make_ds, save, secret_name, caplog):
    ds = make_ds(np.arange(100, dtype=np.uint16).reshape(10, 10), PixelSpacing=[0.25, 0.25], ViewPosition="PA",
                 WindowCenter="50", WindowWidth="0", Modality="MR")
    path = save(ds, tmp_path / "odd.dcm")
    data = path.read_bytes()
    assert data.count(b"0.25\\0.25") == 1
    path.write_bytes(data.replace(b"0.25\\0.25", b"abcd\\efgh"))  # a non-numeric DS, as found in the wild
    with caplog.at_level(logging.DEBUG):
        rad = image.load(path)
    assert rad.spacing.pixel_spacing_mm is None  # non-numeric -> None + warning
    assert rad.orientation.source == "assumed-from-ViewPosition-PA"
    text = caplog.text
    assert "PixelSpacing" in text and "VOI" in text and "MR" in text
    assert secret_name not in text and "SECRET" not in text and "SECRET-ID" not in text


def test_valid_synthetic_image_loads(make_ds, ramp_u16, secret_name):
    """Control for the corpus above: the same factory gives a loadable image."""
    rad = image.load(make_ds(ramp_u16, bits_stored=12))
    np.testing.assert_array_equal(rad.pixels, ramp_u16)
    assert rad.dataset.PatientName == secret_name  # kept in the header, only never in messages


def test_dicom_without_preamble_is_read(tmp_path: Path, make_ds, ramp_u16):
    """Old exports write the data set alone (no preamble, no DICM, no file meta): still DICOM."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    ds = make_ds(ramp_u16)
    del ds.file_meta
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, True
    write_dataset(fp, ds)
    raw = fp.getvalue()
    assert raw[128:132] != b"DICM" and raw[:2] == b"\x08\x00"
    path = tmp_path / "raw.dcm"
    path.write_bytes(raw)
    rad = image.load(path)
    np.testing.assert_array_equal(rad.pixels, ramp_u16)
    assert rad.reference.sop_instance_uid == ds.SOPInstanceUID
