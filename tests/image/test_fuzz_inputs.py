"""Robust inputs: a seeded subset of the fuzzing campaign (scripts/fuzz_inputs.py), and one
regression test for each bug the campaign found in the loaders, the calibration and the CLI."""

from __future__ import annotations

import collections
import io
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag
from pydicom.uid import JPEG2000Lossless, RLELossless

from orthoplan import calibration, image
from orthoplan.errors import CalibrationError, CorruptImageError, OrthoplanError, UnsupportedImageError

REPO = Path(__file__).resolve().parents[2]

#: Every 50th case of the campaign reported in docs/calibration.md: 200 cases, all mutation kinds.
SUBSET = range(0, 10_000, 50)


@pytest.fixture(scope="module")
def fuzz():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import fuzz_inputs
    finally:
        sys.path.remove(str(REPO / "scripts"))
    return fuzz_inputs


def test_fuzz_subset_has_no_uncaught_exception_hang_or_terminal_noise(fuzz, real_dir: Path):
    seeds = fuzz.build_seeds(real_dir)
    cases = [fuzz.make_case(seeds, fuzz.DEFAULT_SEED, i) for i in SUBSET]
    kinds = collections.Counter(c.kind for c in cases)
    assert set(kinds) == set(fuzz.MUTATIONS), f"every mutation kind is exercised: {kinds}"
    pairs = fuzz.run_cases(cases, timeout_s=20.0)
    assert len(pairs) == len(cases)
    bad = fuzz.failures(pairs)
    report = "\n".join(f"case {c.index} [{c.kind} on {c.seed}: {c.detail}] -> {r.outcome} {r.error_class}: "
                       f"{r.message[:300]} {r.noise_lines[:3]}" for c, r in bad)
    assert not bad, f"{len(bad)} failing case(s) (rerun: python scripts/fuzz_inputs.py --only INDEX):\n{report}"
    outcomes = collections.Counter(r.outcome for _, r in pairs)
    # the variants are hostile, not hopeless: some still load and calibrate, most are refused
    assert outcomes["success"] > 10 and outcomes["error"] > len(cases) // 2, outcomes


# --------------------------------------------------------------------------- regressions


def _bytes(ds: pydicom.Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _element_offset(data: bytes, group: int, element: int) -> int:
    """Offset of an explicit-VR little-endian element's tag in a file (its first occurrence after the meta)."""
    needle = struct.pack("<HH", group, element)
    at = data.find(needle, 132 if group != 2 else 0)
    assert at > 0
    return at


@pytest.mark.parametrize("group,element,vr,new", [(0x0008, 0x0018, b"UI", b"QI"), (0x0028, 0x0102, b"US", b"FD")],
                         ids=["unknown-vr", "value-length"])
def test_unparseable_header_element_is_a_corrupt_image(make_ds, ramp_u16, secret_name, group, element, vr, new):
    # a bit flip turned SOP Instance UID's VR "UI" into "QI" (NotImplementedError), or High Bit's
    # "US" into "FD" (2 bytes for an 8-byte value: BytesLengthException): pydicom reads the file
    # and fails only when the value is converted, deep inside the loader (before the fix)
    data = bytearray(_bytes(make_ds(ramp_u16)))
    at = _element_offset(bytes(data), group, element)
    assert data[at + 4:at + 6] == vr
    data[at + 4:at + 6] = new
    with pytest.raises(CorruptImageError, match=rf"header .* damaged: attribute \({group:04X},{element:04X}\)") as info:
        image.load(bytes(data))
    assert secret_name not in str(info.value) and "\n" not in str(info.value)


def test_unknown_vr_in_a_viewers_dataset_is_a_corrupt_image(make_ds, ramp_u16):
    # the Dataset a viewer read with pydicom.dcmread (values parsed lazily) and hands over:
    # copying its header converted the damaged element (NotImplementedError before the fix)
    data = bytearray(_bytes(make_ds(ramp_u16)))
    at = _element_offset(bytes(data), 0x0008, 0x0060)
    data[at + 4:at + 6] = b"CR"  # Modality's VR "CS" -> "CR": no such VR
    ds = pydicom.dcmread(io.BytesIO(bytes(data)))
    with pytest.raises(CorruptImageError, match=r"attribute \(0008,0060\)"):
        image.load(ds)
    assert ds.get_item(0x00080060).VR == "CR", "the viewer's dataset is left as it was"


def test_unknown_vr_of_the_pixel_data_is_a_corrupt_image(make_ds, ramp_u16, tmp_path: Path):
    data = bytearray(_bytes(make_ds(ramp_u16)))
    at = _element_offset(bytes(data), 0x7FE0, 0x0010)
    data[at + 4:at + 6] = b"KB"
    path = tmp_path / "kb.dcm"
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptImageError, match="damaged"):
        image.load(path)


def test_infinite_columns_is_refused_not_an_overflow(make_ds, ramp_u16):
    # Columns written with VR FD and the value +inf (OverflowError in int() before the fix)
    ds = make_ds(ramp_u16)
    tag = Tag(0x00280011)
    ds._dict[tag] = RawDataElement(tag, "FD", 8, struct.pack("<d", float("inf")), 0, False, True)
    with pytest.raises(UnsupportedImageError, match="0 columns"):
        image.load(_bytes(ds))


def test_pixel_data_length_past_the_end_of_the_file_is_refused_before_reading(make_ds, ramp_u16, tmp_path: Path):
    # a flipped bit made the pixel data's length ~4 GB: read from a path, the element is deferred
    # and pydicom would read 4 GB (MemoryError under a memory ceiling before the fix)
    data = bytearray(_bytes(make_ds(ramp_u16)))
    at = _element_offset(bytes(data), 0x7FE0, 0x0010)
    assert data[at + 4:at + 6] == b"OW"
    data[at + 8:at + 12] = struct.pack("<I", 0xFFFFF000)
    path = tmp_path / "long.dcm"
    path.write_bytes(bytes(data) + bytes(300_000))  # long enough for the element to be deferred
    with pytest.raises(CorruptImageError, match="claims 4294963200 bytes, but the file ends"):
        image.load(path)


@pytest.mark.parametrize("syntax", ["native", JPEG2000Lossless, RLELossless])
def test_huge_rows_and_columns_are_refused_before_decoding(make_ds, syntax):
    # a header claiming 14000 x 14000 pixels (392 MB) over a 64 x 48 image: refused before a
    # decoder allocates the array (the RLE and JPEG 2000 decoders did before the fix)
    ds = make_ds((np.arange(64 * 48, dtype=np.uint16).reshape(64, 48) * 7) % 4096, bits_stored=12)
    if syntax != "native":
        ds.compress(syntax)
    ds.Rows = ds.Columns = 14000
    data = _bytes(ds)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptImageError, match="14000 x 14000"):
            image.load(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50e6, f"{peak / 1e6:.0f} MB allocated for a refused image"


def test_codestream_size_of_jpeg_and_jpeg2000(make_ds):
    ds = make_ds((np.arange(64 * 48, dtype=np.uint16).reshape(64, 48) * 3) % 4096, bits_stored=12)
    ds.compress(JPEG2000Lossless)
    frame = image._first_fragment(ds.PixelData)
    assert image._codestream_size(frame) == (64, 48)
    buf = io.BytesIO()
    Image.fromarray(np.zeros((30, 50), np.uint8)).save(buf, format="JPEG")
    assert image._codestream_size(buf.getvalue()) == (30, 50)
    assert image._codestream_size(b"\x00" * 40) is None


def test_tiff_whose_second_directory_has_no_size_is_a_corrupt_image(tmp_path: Path):
    # Pillow raises TypeError("Missing dimensions") counting the pages of a TIFF whose next image
    # directory has no ImageWidth (a damaged next-directory offset, typically)
    buf = io.BytesIO()
    Image.fromarray(np.arange(600, dtype=np.uint16).reshape(20, 30)).save(buf, format="TIFF")
    data = bytearray(buf.getvalue())
    ifd = struct.unpack_from("<I", data, 4)[0]
    n = struct.unpack_from("<H", data, ifd)[0]
    struct.pack_into("<I", data, ifd + 2 + 12 * n, len(data))  # the next directory: appended below
    data += struct.pack("<H", 1) + struct.pack("<HHII", 0x9999, 3, 1, 7) + struct.pack("<I", 0)
    path = tmp_path / "nowidth.tif"
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptImageError) as info:
        image.load(path, spacing_mm=0.15)
    assert "\n" not in str(info.value)


def test_sop_class_uid_swallowing_the_header_is_not_shown(make_ds, ramp_u16, secret_name):
    # a damaged length made SOP Class UID's value run over the patient's name and the rest of the
    # file; the message showed that "UID" (the patient's name and ID with it) before the fix
    data = bytearray(_bytes(make_ds(ramp_u16)))
    at = _element_offset(bytes(data), 0x0008, 0x0016)
    assert data[at + 4:at + 6] == b"UI"
    rest = len(data) - (at + 8)
    rest -= rest % 2
    if rest > 0xFFFF:
        pytest.fail("the synthetic file is too large for a 16-bit length")
    data[at + 6:at + 8] = struct.pack("<H", rest)
    with pytest.raises(OrthoplanError) as info:
        image.load(bytes(data))
    msg = str(info.value)
    assert secret_name not in msg and "SECRET" not in msg, msg
    assert "unreadable SOP Class UID" in msg


def test_ball_search_with_a_radius_of_a_few_pixels_finds_nothing_instead_of_failing():
    # --ball-mm 7 on a coarse image: a radius window of 1-2 px (ValueError in argmin before the fix)
    yy, xx = np.mgrid[0:64, 0:64] + 0.5
    img = 0.2 + 0.7 * (np.hypot(xx - 30.0, yy - 30.0) < 3.0)
    assert calibration.find_balls(img, radius_range_px=(1.0, 2.0)) == []


# --------------------------------------------------------------------------- the terminal


def _broken_j2k(make_ds, tmp_path: Path) -> Path:
    ds = make_ds((np.arange(64 * 48, dtype=np.uint16).reshape(64, 48) * 7) % 4096, bits_stored=12,
                 ImagerPixelSpacing=[0.15, 0.15])
    ds.compress(JPEG2000Lossless)
    frame = bytearray(image._first_fragment(ds.PixelData))
    frame[2:40] = b"\xff" * 38  # the codestream's header destroyed: the decoders log tracebacks
    ds.PixelData = pydicom.encaps.encapsulate([bytes(frame)])
    path = tmp_path / "broken_j2k.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def _calibrate_cli(path: Path, *extra: str, verbose: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orthoplan.cli", *(["-v"] if verbose else []), "calibrate", str(path),
                           "--json", *extra], capture_output=True, text=True, timeout=120)


def test_cli_keeps_decoder_logs_and_warnings_off_the_terminal_unless_verbose(make_ds, tmp_path: Path):
    path = _broken_j2k(make_ds, tmp_path)
    proc = _calibrate_cli(path)
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    # before the fix: pydicom's "ERROR pydicom.pixels.decoders.base: ..." and a traceback
    assert len(lines) == 1 and lines[0].startswith("orthoplan: error:"), proc.stderr
    verbose = _calibrate_cli(path, verbose=True)
    assert verbose.returncode == 3
    assert "pydicom" in verbose.stderr, "with -v the third-party records are shown"


def test_cli_keeps_pillow_warnings_off_the_terminal(tmp_path: Path):
    # a TIFF header followed by garbage: Pillow warns "Corrupt EXIF data" with warnings.warn,
    # printed with its file and line before the fix
    path = tmp_path / "garbage.tif"
    path.write_bytes(b"II*\x00" + np.random.default_rng(3).bytes(1000))
    proc = _calibrate_cli(path, "--spacing", "0.15")
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("orthoplan: error:"), proc.stderr


def test_transfer_syntax_uid_with_a_wrong_vr_does_not_break_the_display(make_ds, ramp_u16):
    # the file meta's Transfer Syntax UID written as PN: the display's LUT header copied the
    # PersonName into a UID (TypeError before the fix)
    data = bytearray(_bytes(make_ds(ramp_u16, WindowCenter=2000, WindowWidth=3000)))
    at = _element_offset(bytes(data), 0x0002, 0x0010)
    assert data[at + 4:at + 6] == b"UI"
    data[at + 4:at + 6] = b"PN"
    rad = image.load(bytes(data))
    assert rad.display.shape == ramp_u16.shape and np.isfinite(rad.display).all()


@pytest.mark.parametrize("vr,value", [("FD", struct.pack("<d", float("inf"))), ("SL", struct.pack("<l", 7))])
def test_numeric_patient_orientation_is_ignored(make_ds, ramp_u16, vr, value):
    # Patient Orientation written with a numeric VR ('float'/'int' object is not iterable before the fix)
    ds = make_ds(ramp_u16)
    tag = Tag(0x00200020)
    ds._dict[tag] = RawDataElement(tag, vr, len(value), value, 0, False, True)
    rad = image.load(_bytes(ds))
    assert rad.patient_orientation is None and rad.orientation.source.startswith("assumed")


def test_known_length_implying_an_impossible_scale_is_refused():
    # --known-length -1 10 100 1e308 0.5: 5e-309 mm per pixel, and an infinite magnification
    # that the CLI's JSON could not print (exit 70 before the fix)
    with pytest.raises(CalibrationError, match="mm per pixel, outside what a radiograph has"):
        calibration.from_known_length((-1.0, 10.0), (100.0, 1e308), 0.5)
    with pytest.raises(CalibrationError, match="outside what a radiograph has"):
        calibration.from_known_length((0.0, 0.0), (10.0, 0.0), 500.0)  # 50 mm per pixel
    assert calibration.from_known_length((0.0, 0.0), (300.0, 400.0), 100.0).mm_per_px == pytest.approx(0.2)


def _tiff_with_size(rows: int, cols: int) -> bytes:
    """A 20 x 30 uncompressed 16-bit TIFF whose directory claims ``rows x cols``."""
    buf = io.BytesIO()
    Image.fromarray(np.arange(600, dtype=np.uint16).reshape(20, 30)).save(buf, format="TIFF")
    data = bytearray(buf.getvalue())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for k in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * k
        tag = struct.unpack_from("<H", data, at)[0]
        if tag in (256, 257):
            struct.pack_into("<HHII", data, at, tag, 4, 1, cols if tag == 256 else rows)
    return bytes(data)


def _png_with_size(rows: int, cols: int) -> bytes:
    import zlib

    buf = io.BytesIO()
    Image.fromarray(np.arange(600, dtype=np.uint16).reshape(20, 30)).save(buf, format="PNG")
    data = buf.getvalue()
    body = struct.pack(">II", cols, rows) + data[24:29]
    ihdr = struct.pack(">I", 13) + b"IHDR" + body + struct.pack(">I", zlib.crc32(b"IHDR" + body) & 0xFFFFFFFF)
    return data[:8] + ihdr + data[33:]


@pytest.mark.parametrize("make", [_tiff_with_size, _png_with_size], ids=["tiff", "png"])
def test_bitmap_claiming_more_pixels_than_its_file_holds_is_refused_before_decoding(make, tmp_path: Path):
    # a damaged TIFF directory claimed 524488 x 240 pixels in a 96 kB file: Pillow allocated and
    # "decoded" 250 MB, and the ball search then ran for a minute (a hang, before the fix)
    path = tmp_path / f"claims.{'tif' if make is _tiff_with_size else 'png'}"
    path.write_bytes(make(60_000, 240))
    tracemalloc.start()
    try:
        with pytest.raises(CorruptImageError, match=r"claims 60000 x 240 pixels .* more than its \d+ bytes can hold"):
            image.load(path, spacing_mm=0.15)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10e6
    assert image.load(make(20, 30), spacing_mm=0.15).shape == (20, 30)  # the true size loads


def test_png_with_a_broken_chunk_header_is_a_corrupt_image():
    # one byte inserted before the second IDAT chunk: Pillow raises SyntaxError("broken PNG
    # file") while decoding (uncaught before the fix)
    pixels = np.random.default_rng(0).integers(0, 65535, (300, 300)).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    data = buf.getvalue()
    second = data.find(b"IDAT", data.find(b"IDAT") + 4) - 4
    assert second > 0, "the PNG has two IDAT chunks"
    with pytest.raises(CorruptImageError, match="could not be decoded"):
        image.load(data[:second] + b"\xe5" + data[second:], spacing_mm=0.15)
