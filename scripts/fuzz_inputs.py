#!/usr/bin/env python3
"""Fuzzing campaign over orthoplan's input edges: the loaders (DICOM, bitmaps) and the calibration.

Every case is one corrupted or hostile variant of a small seed file, made deterministically
from ``(--seed, case index)``, and run through what ``orthoplan calibrate FILE --json`` runs
(:func:`orthoplan.cli.cmd_calibrate`: :func:`orthoplan.image.load`, then
:func:`orthoplan.calibration.calibrate`, then the JSON summary) in a worker process with a
time limit and a memory ceiling. A sample of the cases also runs the real command in a
subprocess, to see exactly what reaches the user's terminal.

Outcomes per case: ``success``; a clean orthoplan error (an :class:`orthoplan.errors.OrthoplanError`,
counted by exit code and class); an **uncaught** exception (anything else: a bug); a **hang**
(over ``--timeout-s``); a **crash** (the worker died); and flags: a **traceback** or other
**noise** (a line that is neither orthoplan's log nor its one-line error) printed on stderr,
a **multi-line** error message, a peak resident memory over ``--max-rss-mb``.

Seeds (see :func:`build_seeds`): the bundled example DX (the pelvis phantom of ``orthoplan
demo``, made small), a synthetic CR derived from it (MONOCHROME1, 12 bits, implicit VR, rescale
and VOI LUT), the same image as JPEG 2000 lossless, JPEG-LS lossless, RLE and JPEG baseline
DICOM, the real RG2 hip in JPEG 2000 (``../shared/data/real``, if present), and PNG (8/16-bit),
TIFF and JPEG bitmaps (a FracAtlas film, downsized, if present).

Usage::

    nice -n 10 python scripts/fuzz_inputs.py --cases 10000 --seed 20261206 --timeout-s 10 --jobs 1
    python scripts/fuzz_inputs.py --only 1234 --seed 20261206      # rerun one case, show everything
    python scripts/fuzz_inputs.py --cases 500 --save-failures /tmp/fuzz-failures

The tests (``tests/image/test_fuzz_inputs.py``) import this file and run a few hundred cases.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import functools
import io
import json
import multiprocessing as mp
import os
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from multiprocessing.connection import wait as mp_wait
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SEED = 20261206
DEFAULT_SHARED = ROOT.parent / "shared" / "data" / "real"

#: Patient identifiers of the seeds (the real RG2 hip's name, too): never in a message or the log.
IDENTIFIERS = ("SECRET^FUZZNAME", "FUZZID0042", "FUZZNAME", "CompressedSamples^RG2")

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"


# --------------------------------------------------------------------------- seeds


@dataclasses.dataclass(frozen=True)
class Seed:
    """One valid input the mutations start from."""

    name: str
    kind: str  # "dicom" or "bitmap"
    data: bytes
    suffix: str
    weight: float = 1.0
    ball_search: bool = True  # small enough for the ball search within the per-case budget


def _dicom_bytes(ds: Any, *, implicit: bool = False) -> bytes:
    buf = io.BytesIO()
    if implicit:
        ds.file_meta.TransferSyntaxUID = IMPLICIT_LE
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def build_seeds(real_dir: Path | None = DEFAULT_SHARED, *, include_large: bool = True) -> list[Seed]:
    """The seed inputs: small synthetic DICOM in several encodings, bitmaps, and real films.

    ``real_dir`` is ``../shared/data/real`` (the RG2 hip in JPEG 2000 and a FracAtlas JPEG);
    without it the bitmaps are made from the phantom. ``include_large`` adds the real
    2140 x 1760 JPEG 2000 hip (slow to decode: a low weight).
    """
    import copy

    import pydicom
    from PIL import Image
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

    from orthoplan.phantoms import pelvis

    case = pelvis.make_pelvis(seed=0, rows=200, columns=240, detector_spacing_mm=1.9, text=False)
    dx = case.dataset
    dx.PatientName, dx.PatientID = IDENTIFIERS[0], IDENTIFIERS[1]
    seeds = [Seed("dx-example", "dicom", _dicom_bytes(copy.deepcopy(dx)), ".dcm")]
    px = dx.pixel_array.astype(np.uint16)

    # A CR: MONOCHROME1, 12 of 16 bits, implicit VR, rescale, a window and a VOI LUT, detector spacing.
    cr = copy.deepcopy(dx)
    cr.SOPClassUID = cr.file_meta.MediaStorageSOPClassUID = CR_STORAGE
    cr.Modality = "CR"
    cr12 = (4095 - (px >> 4)).astype(np.uint16)
    cr.PhotometricInterpretation = "MONOCHROME1"
    cr.BitsStored, cr.HighBit = 12, 11
    cr.PixelData = cr12.tobytes()
    cr.RescaleSlope, cr.RescaleIntercept, cr.RescaleType = "1.0", "-10", "US"
    cr.WindowCenter, cr.WindowWidth = "2000", "3000"
    lut = pydicom.Dataset()
    lut.LUTDescriptor = [256, 0, 12]
    lut.LUTData = np.linspace(0, 4095, 256).astype(np.uint16).tolist()
    lut["LUTData"].VR = "US"
    cr.VOILUTSequence = [lut]
    for kw in ("ImagerPixelSpacing",):
        if kw not in cr:
            cr.ImagerPixelSpacing = [1.9, 1.9]
    cr.DistanceSourceToDetector, cr.DistanceSourceToPatient = "1150", "1000"
    seeds.append(Seed("cr-synthetic", "dicom", _dicom_bytes(cr, implicit=True), ".dcm"))

    for name, uid in (("dx-j2k", JPEG2000Lossless), ("dx-jpegls", JPEGLSLossless), ("dx-rle", RLELossless)):
        c = copy.deepcopy(dx)
        try:
            c.compress(uid)
        except Exception as exc:  # an encoder missing here: that seed is left out
            print(f"seed {name} left out: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        seeds.append(Seed(name, "dicom", _dicom_bytes(c), ".dcm"))

    # JPEG baseline (8 bit), encoded by Pillow and encapsulated.
    jp = copy.deepcopy(dx)
    px8 = (px >> 8).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(px8, mode="L").save(buf, format="JPEG", quality=90)
    jp.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.50"
    jp.BitsAllocated, jp.BitsStored, jp.HighBit = 8, 8, 7
    jp.PixelData = encapsulate([buf.getvalue()])
    jp["PixelData"].VR = "OB"
    for kw in ("WindowCenter", "WindowWidth"):
        if kw in jp:
            delattr(jp, kw)
    seeds.append(Seed("dx-jpeg", "dicom", _dicom_bytes(jp), ".dcm"))

    if include_large and real_dir is not None and (real_dir / "hip_cr_rg2_j2k.dcm").is_file():
        seeds.append(Seed("hip-rg2-j2k", "dicom", (real_dir / "hip_cr_rg2_j2k.dcm").read_bytes(), ".dcm",
                          weight=0.05, ball_search=False))

    # Bitmaps.
    def save(arr: np.ndarray, fmt: str, **kw: Any) -> bytes:
        b = io.BytesIO()
        Image.fromarray(arr).save(b, format=fmt, **kw)
        return b.getvalue()

    seeds.append(Seed("png8", "bitmap", save(px8, "PNG"), ".png"))
    seeds.append(Seed("png16", "bitmap", save(px, "PNG"), ".png"))
    seeds.append(Seed("tiff16", "bitmap", save(px, "TIFF"), ".tif"))
    film = None
    if real_dir is not None:
        films = sorted((real_dir / "fracatlas-hip" / "images").glob("*.jpg"))
        if films:
            with Image.open(films[0]) as im:
                film = np.asarray(im.convert("L").resize((im.width // 10, im.height // 10)))
    seeds.append(Seed("jpeg-fracatlas" if film is not None else "jpeg", "bitmap",
                      save(film if film is not None else px8, "JPEG", quality=90), ".jpg"))
    return seeds


# --------------------------------------------------------------------------- byte-level helpers

_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_SHORT_VRS = [b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
              b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"]


@dataclasses.dataclass(frozen=True)
class Element:
    tag: int
    offset: int  # of the tag
    vr: bytes | None
    length_at: int
    length_size: int
    length: int
    value_at: int


def walk_elements(data: bytes) -> list[Element]:
    """The top-level elements of a DICOM file (explicit or implicit VR little endian), as far as
    they can be walked; an undefined length (a sequence, encapsulated pixels) ends the walk
    after that element."""
    out: list[Element] = []
    pos = 132 if data[128:132] == b"DICM" else 0
    explicit = True
    ts_implicit = False
    while pos + 8 <= len(data):
        group, elem = struct.unpack_from("<HH", data, pos)
        if group != 2 and out and out[-1].tag >> 16 == 2:
            explicit = not ts_implicit
        tag = (group << 16) | elem
        vr = data[pos + 4:pos + 6]
        if explicit and vr.isalpha() and vr.isupper():
            if vr in _LONG_VRS:
                if pos + 12 > len(data):
                    break
                length = struct.unpack_from("<I", data, pos + 8)[0]
                el = Element(tag, pos, vr, pos + 8, 4, length, pos + 12)
            else:
                length = struct.unpack_from("<H", data, pos + 6)[0]
                el = Element(tag, pos, vr, pos + 6, 2, length, pos + 8)
        else:
            length = struct.unpack_from("<I", data, pos + 4)[0]
            el = Element(tag, pos, None, pos + 4, 4, length, pos + 8)
        out.append(el)
        if tag == 0x00020010:
            ts_implicit = data[el.value_at:el.value_at + length].rstrip(b"\x00 ") == b"1.2.840.10008.1.2"
        if length == 0xFFFFFFFF:
            break
        pos = el.value_at + length
    return out


def pixel_data_offset(data: bytes) -> int:
    """Where the pixel data element starts (the end of the header), or the file's middle."""
    for el in walk_elements(data):
        if el.tag == 0x7FE00010:
            return el.offset
    return len(data) // 2


def _flip_bits(data: bytes, rng: np.random.Generator, lo: int, hi: int, n: int) -> bytes:
    b = bytearray(data)
    hi = max(lo + 1, min(hi, len(b)))
    for _ in range(n):
        i = int(rng.integers(lo, hi))
        b[i] ^= 1 << int(rng.integers(0, 8))
    return bytes(b)


def _bitmap_body_offset(data: bytes) -> int:
    if data.startswith(b"\x89PNG"):
        i = data.find(b"IDAT")
        return i + 4 if i > 0 else 33
    if data.startswith(b"\xff\xd8"):
        i = data.find(b"\xff\xda")
        return i + 2 if i > 0 else 2
    return 8 + 12 * 12 if len(data) > 200 else len(data) // 2


# --------------------------------------------------------------------------- mutations

#: Option sets of ``orthoplan calibrate`` that a user could type (values argparse accepts).
ABSURD_NUMBERS = ["0", "-1", "nan", "inf", "-inf", "1e-300", "1e308", "1e-9", "1e9", "-0.0", "0.5", "7"]


@dataclasses.dataclass(frozen=True)
class Case:
    """One generated input and how it is fed to ``orthoplan calibrate``."""

    index: int
    seed: str
    kind: str
    detail: str
    data: bytes
    suffix: str
    argv: tuple[str, ...]  # options after ``calibrate FILE``
    via_path: bool
    via_dataset: bool = False  # not via the path: a pydicom Dataset (a viewer's) instead of the bytes


def _dataset(data: bytes) -> Any:
    import pydicom

    return pydicom.dcmread(io.BytesIO(data), force=True)


def _write(ds: Any) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=False)
    return buf.getvalue()


def _raw(ds: Any, keyword_or_tag: Any, vr: str, value: bytes) -> None:
    """Put an element with any VR and any value bytes into ``ds`` (bypassing validation)."""
    from pydicom.dataelem import RawDataElement
    from pydicom.datadict import tag_for_keyword
    from pydicom.tag import Tag

    tag = Tag(tag_for_keyword(keyword_or_tag) if isinstance(keyword_or_tag, str) else keyword_or_tag)
    if len(value) % 2:
        value += b" " if vr not in ("OB", "UN", "US", "SS", "UL", "SL") else b"\x00"
    ds._dict[tag] = RawDataElement(tag, vr, len(value), value, 0, False, True)


def _text(value: str) -> bytes:
    return value.encode("latin-1", "replace")


def m_truncate(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    where = pixel_data_offset(data) if seed.kind == "dicom" else _bitmap_body_offset(data)
    choice = rng.integers(0, 4)
    if choice == 0:
        cut = int(rng.integers(0, min(where + 1, len(data))))
        return data[:cut], f"cut in the header at {cut}"
    if choice == 1:
        cut = int(rng.integers(where, len(data)))
        return data[:cut], f"cut in the pixel data at {cut}"
    if choice == 2:
        cut = len(data) - int(rng.integers(1, 64))
        return data[:cut], f"last {len(data) - cut} bytes missing"
    cut = int(rng.integers(1, 200))
    return data[:cut], f"first {cut} bytes only"


def m_bitflip_header(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    end = pixel_data_offset(data) + 16 if seed.kind == "dicom" else _bitmap_body_offset(data)
    lo = 128 if seed.kind == "dicom" and rng.random() < 0.8 else 0
    n = int(rng.choice([1, 2, 4, 16]))
    return _flip_bits(data, rng, lo, end, n), f"{n} bits flipped in bytes {lo}-{end}"


def m_bitflip_pixels(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    start = pixel_data_offset(data) if seed.kind == "dicom" else _bitmap_body_offset(data)
    n = int(rng.choice([1, 8, 64, 512]))
    return _flip_bits(data, rng, start, len(data), n), f"{n} bits flipped after byte {start}"


def m_splice(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    i = int(rng.integers(0, len(data)))
    n = int(rng.choice([1, 2, 3, 4, 8, 100, 4096]))
    op = int(rng.integers(0, 4))
    if op == 0:
        return data[:i] + data[i + n:], f"{n} bytes deleted at {i}"
    if op == 1:
        return data[:i] + rng.bytes(n) + data[i:], f"{n} random bytes inserted at {i}"
    if op == 2:
        return data[:i] + data[i:i + n] * int(rng.integers(2, 50)) + data[i + n:], f"bytes at {i} repeated"
    return data[:i] + b"\x00" * n + data[i + n:], f"{n} bytes zeroed at {i}"


def m_length_field(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    els = walk_elements(data)
    if not els:
        return m_bitflip_header(data, rng, seed)
    el = els[int(rng.integers(0, len(els)))]
    if rng.random() < 0.3:
        el = next((e for e in els if e.tag == 0x7FE00010), el)
    big = (1 << (8 * el.length_size)) - 1
    new = int(rng.choice([0, 1, big, big - 1, max(0, el.length - 1), el.length + 1, el.length + 2,
                          el.length * 2, int(rng.integers(0, big))])) & big
    b = bytearray(data)
    b[el.length_at:el.length_at + el.length_size] = new.to_bytes(el.length_size, "little")
    return bytes(b), f"length of ({el.tag >> 16:04X},{el.tag & 0xFFFF:04X}) {el.length} -> {new}"


_INTERESTING_TAGS = {
    0x00280010: "Rows", 0x00280011: "Columns", 0x00280100: "BitsAllocated", 0x00280101: "BitsStored",
    0x00280102: "HighBit", 0x00280103: "PixelRepresentation", 0x00280002: "SamplesPerPixel",
    0x00280004: "PhotometricInterpretation", 0x00280030: "PixelSpacing", 0x00181164: "ImagerPixelSpacing",
    0x00181114: "EstimatedRadiographicMagnificationFactor", 0x00281050: "WindowCenter",
    0x00281051: "WindowWidth", 0x00281053: "RescaleSlope", 0x00281052: "RescaleIntercept",
    0x00280008: "NumberOfFrames", 0x00080016: "SOPClassUID", 0x00020010: "TransferSyntaxUID",
    0x00181110: "DistanceSourceToDetector", 0x00181111: "DistanceSourceToPatient", 0x7FE00010: "PixelData",
    0x00283010: "VOILUTSequence", 0x00200020: "PatientOrientation",
}


def m_wrong_vr(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    els = [e for e in walk_elements(data) if e.vr is not None]
    pick = [e for e in els if e.tag in _INTERESTING_TAGS] or els
    if pick and rng.random() < 0.6:
        el = pick[int(rng.integers(0, len(pick)))]
        if el.vr in _LONG_VRS:
            new = bytes(rng.choice(sorted(_LONG_VRS)))
        else:
            new = bytes(rng.choice(_SHORT_VRS if rng.random() < 0.85 else sorted(_LONG_VRS)))
        b = bytearray(data)
        b[el.offset + 4:el.offset + 6] = new
        return bytes(b), f"VR of {_INTERESTING_TAGS.get(el.tag, hex(el.tag))} {el.vr.decode()} -> {new.decode()}"
    # dataset level: an attribute re-typed with a VR that does not match its value bytes
    ds = _dataset(data)
    kw = str(rng.choice(sorted(set(_INTERESTING_TAGS.values()) - {"PixelData", "TransferSyntaxUID", "VOILUTSequence"})))
    vr = str(rng.choice(["US", "SS", "UL", "FL", "FD", "DS", "IS", "CS", "UI", "AT", "OB", "SQ", "UN", "LO"]))
    value = {
        "US": struct.pack("<H", int(rng.integers(0, 65536))), "SS": struct.pack("<h", -int(rng.integers(1, 32768))),
        "UL": struct.pack("<I", int(rng.integers(0, 2**32))), "FL": struct.pack("<f", float("nan")),
        "FD": struct.pack("<d", float(rng.choice([np.inf, -1e300, 0.0]))), "DS": b"1e999\\-0",
        "IS": b"-2147483649", "CS": b"MONOCHROME2\\RGB", "UI": b"1.2.3\x00", "AT": b"\x10\x00\x28",
        "OB": rng.bytes(7), "SQ": b"\xfe\xff\x00\xe0\x04\x00\x00\x00abcd", "UN": rng.bytes(8), "LO": b"\xff\xfe\x00abc",
    }[vr]
    _raw(ds, kw, vr, value)
    return _write(ds), f"{kw} as {vr} {value[:16]!r}"


def _set_int(ds: Any, kw: str, value: int) -> str:
    if 0 <= value < 65536:
        setattr(ds, kw, value)
        return f"{kw}={value}"
    if -32768 <= value < 0:
        _raw(ds, kw, "SS", struct.pack("<h", value))
        return f"{kw}={value} (SS)"
    if 0 <= value < 2**32:
        _raw(ds, kw, "UL", struct.pack("<I", value))
        return f"{kw}={value} (UL)"
    _raw(ds, kw, "IS", _text(str(value)))
    return f"{kw}={value} (IS)"


def m_huge_size(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    if seed.kind == "bitmap":
        return _bitmap_huge(data, rng)
    ds = _dataset(data)
    kw = str(rng.choice(["Rows", "Columns", "Rows+Columns", "NumberOfFrames", "BitsAllocated", "SamplesPerPixel"]))
    values = {
        "Rows": [0, 1, 65535, 40000, -1, -32768, 2**31, 2**40, int(ds.Rows) * 2, int(ds.Rows) + 1],
        "Columns": [0, 1, 65535, 40000, -1, 2**32 - 1, int(ds.Columns) * 2, int(ds.Columns) - 1],
        "NumberOfFrames": [0, 1, 2, 1000, 2**31 - 1, -1, -(2**31), 10**12],
        "BitsAllocated": [0, 1, 7, 12, 24, 32, 64, 65535, -16],
        "SamplesPerPixel": [0, 2, 3, 4, 65535, -1],
    }
    if kw == "Rows+Columns":
        big = int(rng.choice([14000, 20000, 65535]))
        _set_int(ds, "Rows", big)
        _set_int(ds, "Columns", big)
        return _write(ds), f"Rows=Columns={big}"
    if kw == "NumberOfFrames":
        v = int(rng.choice(values[kw]))
        _raw(ds, kw, "IS", _text(str(v)))
        return _write(ds), f"NumberOfFrames={v}"
    return _write(ds), _set_int(ds, kw, int(rng.choice(values[kw])))


def m_photometric_bitdepth(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    ds = _dataset(data)
    op = int(rng.integers(0, 6))
    if op == 0:
        pi = str(rng.choice(["RGB", "PALETTE COLOR", "YBR_FULL", "YBR_FULL_422", "MONOCHROME3", "", "monochrome1",
                             "MONOCHROME1\\MONOCHROME2", " MONOCHROME2 ", "ARGB", "HSV", "\x00\x00"]))
        _raw(ds, "PhotometricInterpretation", "CS", _text(pi))
        return _write(ds), f"PhotometricInterpretation={pi!r}"
    if op == 1:
        bs = int(rng.choice([0, 1, 8, 12, 15, 16, 17, 32, 255]))
        return _write(ds), _set_int(ds, "BitsStored", bs)
    if op == 2:
        hb = int(rng.choice([0, 7, 15, 16, 31, 200]))
        return _write(ds), _set_int(ds, "HighBit", hb)
    if op == 3:
        pr = int(rng.choice([1, 2, 255]))
        return _write(ds), _set_int(ds, "PixelRepresentation", pr)
    if op == 4:  # pixel data re-packed with another bit depth, header left or changed
        if "PixelData" not in ds or getattr(ds.file_meta, "TransferSyntaxUID", "") not in (EXPLICIT_LE, IMPLICIT_LE):
            return m_huge_size(data, rng, seed)
        raw = np.frombuffer(ds.PixelData[: len(ds.PixelData) // 2 * 2], dtype="<u2")
        bits = int(rng.choice([1, 8, 32, 64]))
        if bits == 1:
            ds.PixelData = np.packbits(raw > raw.mean()).tobytes()
        else:
            ds.PixelData = raw.astype(f"<u{bits // 8}").tobytes()
        if rng.random() < 0.7:
            ds.BitsAllocated = bits
            ds.BitsStored = bits
            ds.HighBit = bits - 1
        return _write(ds), f"pixels re-packed as {bits} bit (header {'changed' if ds.BitsAllocated == bits else 'kept'})"
    ds.SamplesPerPixel = int(rng.choice([1, 3]))
    ds.PlanarConfiguration = int(rng.choice([0, 1, 2]))
    return _write(ds), f"SamplesPerPixel={ds.SamplesPerPixel} PlanarConfiguration={ds.PlanarConfiguration}"


_SPACING_KWS = ["PixelSpacing", "ImagerPixelSpacing", "EstimatedRadiographicMagnificationFactor",
                "DistanceSourceToDetector", "DistanceSourceToPatient", "PixelSpacingCalibrationType",
                "PixelSpacingCalibrationDescription", "NominalScannedPixelSpacing"]


def m_spacing_tags(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    ds = _dataset(data)
    details = []
    for _ in range(int(rng.integers(1, 4))):
        kw = str(rng.choice(_SPACING_KWS))
        if kw == "PixelSpacingCalibrationType":
            value = str(rng.choice(["GEOMETRY", "FIDUCIAL", "", "NONSENSE", "geometry", "GEOMETRY\\FIDUCIAL"]))
        elif kw == "PixelSpacingCalibrationDescription":
            value = str(rng.choice(["", "x" * 64, "\x00\xff"]))
        else:
            nums = [str(rng.choice(ABSURD_NUMBERS + ["0.143", "1.15", "abc", "", "1,5", "0x10", "1e-320"]))
                    for _ in range(int(rng.choice([1, 2, 2, 3, 7])))]
            value = "\\".join(nums)
        _raw(ds, kw, "DS" if kw not in ("PixelSpacingCalibrationType", "PixelSpacingCalibrationDescription") else "LO",
             _text(value))
        details.append(f"{kw}={value!r}")
    if rng.random() < 0.2:  # a spacing in the functional-group/pixel-measures place too
        import pydicom

        item = pydicom.Dataset()
        _raw(item, "PixelSpacing", "DS", _text(str(rng.choice(ABSURD_NUMBERS))))
        outer = pydicom.Dataset()
        outer.PixelMeasuresSequence = [item]
        ds.SharedFunctionalGroupsSequence = [outer]
        details.append("PixelMeasuresSequence")
    return _write(ds), "; ".join(details)


def m_display_luts(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    import pydicom

    ds = _dataset(data)
    op = int(rng.integers(0, 5))
    if op == 0:
        c, w = (str(rng.choice(ABSURD_NUMBERS + ["1000", "-1000", "1\\2\\3"])) for _ in range(2))
        _raw(ds, "WindowCenter", "DS", _text(c))
        _raw(ds, "WindowWidth", "DS", _text(w))
        if rng.random() < 0.5:
            _raw(ds, "VOILUTFunction", "CS", _text(str(rng.choice(["SIGMOID", "LINEAR_EXACT", "BOGUS", ""]))))
        return _write(ds), f"window {c!r}/{w!r}"
    if op == 1:
        s, i = (str(rng.choice(ABSURD_NUMBERS + ["-1e5"])) for _ in range(2))
        _raw(ds, "RescaleSlope", "DS", _text(s))
        _raw(ds, "RescaleIntercept", "DS", _text(i))
        return _write(ds), f"rescale {s!r}/{i!r}"
    lut = pydicom.Dataset()
    n = int(rng.choice([0, 1, 2, 256, 4096, 65535]))
    first = int(rng.choice([0, 100, 65535]))
    bits = int(rng.choice([0, 8, 12, 16, 17, 32]))
    _raw(lut, "LUTDescriptor", str(rng.choice(["US", "SS"])), struct.pack("<HHH", n, first, bits & 0xFFFF))
    m = int(rng.choice([0, 1, 3, 256, 5000]))
    _raw(lut, "LUTData", str(rng.choice(["US", "OW"])), rng.bytes(2 * m))
    if op == 2:
        ds.VOILUTSequence = [lut] * int(rng.choice([1, 2]))
        if rng.random() < 0.5:
            for kw in ("WindowCenter", "WindowWidth"):
                if kw in ds:
                    delattr(ds, kw)
        return _write(ds), f"VOI LUT descriptor ({n}, {first}, {bits}), {m} entries"
    if op == 3:
        _raw(lut, "ModalityLUTType", "LO", b"US")
        ds.ModalityLUTSequence = [lut]
        return _write(ds), f"Modality LUT descriptor ({n}, {first}, {bits}), {m} entries"
    _raw(ds, "PresentationLUTShape", "CS", _text(str(rng.choice(["INVERSE", "IDENTITY", "", "LOG"]))))
    return _write(ds), "PresentationLUTShape"


def _nested(depth: int, rng: np.random.Generator) -> Any:
    import pydicom

    item = pydicom.Dataset()
    item.CodeValue = "1"
    for _ in range(depth):
        outer = pydicom.Dataset()
        outer.add_new(0x00091010, "SQ", [item])
        item = outer
    return item


def m_nested_sequences(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    import pydicom

    ds = _dataset(data)
    op = int(rng.integers(0, 4))
    depth = int(rng.choice([2, 10, 50, 100, 150]))
    if op == 0:
        ds.add_new(0x00091010, "SQ", [_nested(depth, rng)])
        ds.add_new(0x00090010, "LO", "FUZZ")
        return _write(ds), f"private sequence nested {depth} deep"
    if op == 1:
        kw = str(rng.choice(["VOILUTSequence", "ModalityLUTSequence", "ReferencedImageSequence",
                             "ViewCodeSequence", "AnatomicRegionSequence", "SharedFunctionalGroupsSequence"]))
        setattr(ds, kw, [_nested(depth, rng)])
        return _write(ds), f"{kw} nested {depth} deep"
    if op == 2:
        n = int(rng.choice([0, 1, 1000, 20000]))
        items = [pydicom.Dataset() for _ in range(n)]
        for it in items[:3]:
            it.PixelSpacing = ["0", "0"]
        ds.ViewCodeSequence = items
        return _write(ds), f"ViewCodeSequence with {n} items"
    # an undefined-length sequence whose delimiter is missing, as raw bytes at the end of the header
    body = b"\xfe\xff\x00\xe0\xff\xff\xff\xff" + b"\x08\x00\x00\x01SH\x02\x00AB" * int(rng.integers(1, 5))
    _raw(ds, 0x00091011, "UN", body)
    return _write(ds), "undefined-length sequence without delimiters (as UN)"


def m_transfer_syntax(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    ds = _dataset(data)
    op = int(rng.integers(0, 4))
    if op == 0:
        uid = str(rng.choice([
            "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99",
            "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
            "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.100",
            "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.5", "1.2.3.4", "", "garbage\x00"]))
        buf = bytearray(data)
        old = ds.file_meta.get("TransferSyntaxUID", "")
        els = walk_elements(data)
        ts = next((e for e in els if e.tag == 0x00020010), None)
        if ts is None:
            return m_bitflip_header(data, rng, seed)
        value = _text(uid)
        if len(value) % 2:
            value += b"\x00"
        buf[ts.length_at:ts.value_at + ts.length] = len(value).to_bytes(2, "little") + value
        return bytes(buf), f"TransferSyntaxUID {old} -> {uid!r} (bytes)"
    if op == 1:
        meta_end = max((e.value_at + e.length for e in walk_elements(data) if e.tag >> 16 == 2), default=132)
        return data[meta_end:], "file meta and preamble removed"
    if op == 2:
        uid = str(rng.choice(["1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.11.1", "1.2.3", "",
                              "1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.7"]))
        _raw(ds, "SOPClassUID", "UI", _text(uid))
        _raw(ds, "Modality", "CS", _text(str(rng.choice(["SR", "MR", "", "CT", "PR"]))))
        return _write(ds), f"SOPClassUID={uid!r}"
    for kw in ("PixelData", "Rows", "Columns", "BitsAllocated", "PhotometricInterpretation"):
        if kw in ds and rng.random() < 0.4:
            delattr(ds, kw)
    if rng.random() < 0.3:
        ds.FloatPixelData = b"\x00" * 16
    return _write(ds), "image attributes removed"


def m_compressed_stream(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    from pydicom.encaps import encapsulate, generate_fragments

    ds = _dataset(data)
    ts = str(ds.file_meta.get("TransferSyntaxUID", ""))
    if ts in (EXPLICIT_LE, IMPLICIT_LE, "") or "PixelData" not in ds:
        # native data claimed compressed (or the other way round): handled by m_transfer_syntax
        return m_transfer_syntax(data, rng, seed)
    raw = ds.PixelData
    try:
        frags = list(generate_fragments(raw))
    except Exception:
        frags = [raw[16:]]
    stream = b"".join(frags)
    op = int(rng.integers(0, 8))
    if op == 0:
        cut = int(rng.integers(0, len(stream)))
        new, what = [stream[:cut]], f"codestream cut at {cut}/{len(stream)}"
    elif op == 1:
        new, what = [_flip_bits(stream, rng, 0, min(len(stream), 200), 4)], "codestream header bits flipped"
    elif op == 2:
        i = int(rng.integers(0, len(stream)))
        new, what = [stream[:i] + b"\x00" * 512 + stream[i + 512:]], f"512 bytes zeroed at {i}"
    elif op == 3:
        k = int(rng.choice([2, 7, 100]))
        step = max(1, len(stream) // k)
        new, what = [stream[i:i + step] for i in range(0, len(stream), step)], f"split into {k} fragments"
    elif op == 4:
        new, what = [stream, stream], "two frames in a single-frame image"
    elif op == 5:
        new, what = [rng.bytes(int(rng.choice([0, 2, 100, 5000])))], "random bytes as the codestream"
    elif op == 6:
        other = {b"\xff\x4f": b"\xff\xd8\xff\xe0", b"\xff\xd8": b"\xff\x4f\xff\x51"}.get(stream[:2], b"\xff\xd8")
        new, what = [other + stream[4:]], "codestream of another codec"
    else:
        # raw item bytes: an item with a wrong length, or no sequence delimiter
        item = b"\xfe\xff\x00\xe0" + struct.pack("<I", int(rng.choice([0xFFFFFFF0, len(stream) + 100, 3]))) + stream
        blob = b"\xfe\xff\x00\xe0\x00\x00\x00\x00" + item
        if rng.random() < 0.5:
            blob += b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
        ds.PixelData = blob
        return _write(ds), "encapsulated item with a wrong length"
    ds.PixelData = encapsulate([f for f in new if f] or [b"\x00\x00"], has_bot=bool(rng.random() < 0.5))
    return _write(ds), what


def m_garbage(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    op = int(rng.integers(0, 6))
    n = int(rng.choice([1, 7, 132, 1000, 100_000]))
    if op == 0:
        return rng.bytes(n), f"{n} random bytes"
    if op == 1:
        return b"\x00" * 128 + b"DICM" + rng.bytes(n), f"DICM marker then {n} random bytes"
    if op == 2:
        return b"\x00" * 128 + b"DICM", "DICM marker only"
    if op == 3:
        return data[:4] + rng.bytes(n), "magic bytes then random bytes"
    if op == 4:
        return b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100" + rng.bytes(n), "preamble-less element then random bytes"
    return b"", "empty file"


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _bitmap_huge(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    w, h = (int(rng.choice([0, 1, 65535, 100_000, 2**31 - 1, 2**32 - 1])) for _ in range(2))
    if data.startswith(b"\x89PNG"):
        body = bytearray(data[16:29])
        body[0:8] = struct.pack(">II", w, h)
        return data[:8] + _png_chunk(b"IHDR", bytes(body)) + data[33:], f"PNG IHDR {w} x {h}"
    if data.startswith(b"\xff\xd8"):
        i = max(data.find(b"\xff\xc0"), data.find(b"\xff\xc2"))
        if i < 0:
            return data, "no SOF"
        b = bytearray(data)
        b[i + 5:i + 9] = struct.pack(">HH", h & 0xFFFF, w & 0xFFFF)
        return bytes(b), f"JPEG SOF {w & 0xFFFF} x {h & 0xFFFF}"
    # TIFF little endian: patch ImageWidth (256) / ImageLength (257) in the first IFD
    b = bytearray(data)
    ifd = struct.unpack_from("<I", b, 4)[0]
    if ifd + 2 > len(b):
        return data, "no IFD"
    n = struct.unpack_from("<H", b, ifd)[0]
    for k in range(n):
        at = ifd + 2 + 12 * k
        tag, typ = struct.unpack_from("<HH", b, at)
        if tag in (256, 257):
            v = w if tag == 256 else h
            if typ == 3:
                struct.pack_into("<HHIH", b, at, tag, 3, 1, v & 0xFFFF)
            else:
                struct.pack_into("<HHII", b, at, tag, 4, 1, v & 0xFFFFFFFF)
    return bytes(b), f"TIFF {w} x {h}"


def m_bitmap_mode(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im)
    if arr.ndim == 3:
        arr = arr[..., 0]
    a8 = (arr >> 8).astype(np.uint8) if arr.dtype.itemsize > 1 else arr.astype(np.uint8)
    op = str(rng.choice(["1", "P", "RGB", "RGBgrey", "RGBA", "LA", "I", "F", "Fnan", "CMYK", "multipage",
                         "tiny", "line", "I;16B", "I32neg", "apng"]))
    buf = io.BytesIO()
    fmt = str(rng.choice(["PNG", "TIFF"])) if op not in ("CMYK",) else str(rng.choice(["TIFF", "JPEG"]))
    if op in ("F", "Fnan", "I", "I;16B", "I32neg", "multipage"):
        fmt = "TIFF"
    if op == "apng":
        fmt = "PNG"
    if op == "1":
        img = Image.fromarray(a8 > 128)
    elif op == "P":
        img = Image.fromarray(a8).convert("P")
    elif op == "RGB":
        rgb = np.stack([a8, a8 // 2, 255 - a8], axis=-1)
        img = Image.fromarray(rgb.astype(np.uint8), "RGB")
    elif op == "RGBgrey":
        img = Image.fromarray(np.stack([a8] * 3, axis=-1), "RGB")
    elif op == "RGBA":
        img = Image.fromarray(np.stack([a8] * 4, axis=-1), "RGBA")
    elif op == "LA":
        img = Image.fromarray(np.stack([a8, a8], axis=-1), "LA")
    elif op == "I":
        img = Image.fromarray(a8.astype(np.int32) * 70000)
    elif op == "I32neg":
        img = Image.fromarray(a8.astype(np.int32) - 200)
    elif op in ("F", "Fnan"):
        f = a8.astype(np.float32) / 255
        if op == "Fnan":
            f[::7, ::5] = np.nan
            f[0, 0] = np.inf
        img = Image.fromarray(f)
    elif op == "CMYK":
        img = Image.fromarray(np.stack([a8] * 3, axis=-1), "RGB").convert("CMYK")
    elif op == "tiny":
        img = Image.fromarray(a8[:int(rng.integers(1, 4)), :int(rng.integers(1, 4))].copy())
    elif op == "line":
        img = Image.fromarray(a8[:1].copy() if rng.random() < 0.5 else a8[:, :1].copy())
    elif op == "I;16B":
        img = Image.fromarray(a8.astype(">u2") * 257)
    else:
        img = Image.fromarray(a8)
    if op == "multipage":
        img.save(buf, format="TIFF", save_all=True, append_images=[img, img])
    elif op == "apng":
        img.save(buf, format="PNG", save_all=True, append_images=[img.point(lambda v: 255 - v)], duration=100)
    else:
        img.save(buf, format=fmt)
    return buf.getvalue(), f"{op} as {fmt}"


def m_cli_options(data: bytes, rng: np.random.Generator, seed: Seed) -> tuple[bytes, str]:
    return data, "absurd options"


#: The mutation kinds, with the seeds they apply to and their relative frequency.
MUTATIONS: dict[str, tuple[Callable[..., tuple[bytes, str]], tuple[str, ...], float]] = {
    "truncate": (m_truncate, ("dicom", "bitmap"), 1.0),
    "bitflip-header": (m_bitflip_header, ("dicom", "bitmap"), 1.5),
    "bitflip-pixels": (m_bitflip_pixels, ("dicom", "bitmap"), 1.0),
    "splice": (m_splice, ("dicom", "bitmap"), 0.7),
    "length-field": (m_length_field, ("dicom",), 0.7),
    "wrong-vr": (m_wrong_vr, ("dicom",), 1.0),
    "huge-size": (m_huge_size, ("dicom", "bitmap"), 1.0),
    "photometric-bitdepth": (m_photometric_bitdepth, ("dicom",), 1.0),
    "spacing-tags": (m_spacing_tags, ("dicom",), 1.2),
    "display-luts": (m_display_luts, ("dicom",), 0.8),
    "nested-sequences": (m_nested_sequences, ("dicom",), 0.5),
    "transfer-syntax": (m_transfer_syntax, ("dicom",), 0.7),
    "compressed-stream": (m_compressed_stream, ("dicom",), 1.0),
    "bitmap-mode": (m_bitmap_mode, ("bitmap",), 1.0),
    "garbage": (m_garbage, ("dicom", "bitmap"), 0.3),
    "cli-options": (m_cli_options, ("dicom", "bitmap"), 0.5),
}


def _options(rng: np.random.Generator, seed: Seed, absurd: bool) -> tuple[str, ...]:
    opts: list[str] = []
    if not seed.ball_search or rng.random() < 0.75:  # the ball search costs ~0.1 s: a quarter of the cases
        opts.append("--no-ball")
    if seed.kind == "bitmap" and rng.random() < (0.7 if not absurd else 0.9):
        opts += ["--spacing", str(rng.choice(ABSURD_NUMBERS)) if absurd else "0.15"]
    if absurd:
        if rng.random() < 0.5:
            if "--no-ball" in opts and seed.ball_search:
                opts.remove("--no-ball")
            opts += ["--ball-mm", str(rng.choice(ABSURD_NUMBERS))]
        if rng.random() < 0.5:
            opts += ["--assume-magnification", str(rng.choice(ABSURD_NUMBERS))]
        if rng.random() < 0.3:
            opts += ["--known-length"] + [str(rng.choice(ABSURD_NUMBERS + ["10", "100"])) for _ in range(5)]
    elif rng.random() < 0.2:
        opts += ["--assume-magnification", "1.15"]
    return tuple(opts)


def make_case(seeds: list[Seed], campaign_seed: int, index: int) -> Case:
    """Case ``index`` of the campaign ``campaign_seed`` (deterministic)."""
    from pydicom import config

    rng = np.random.default_rng([campaign_seed, index])
    weights = np.array([s.weight for s in seeds])
    seed = seeds[int(rng.choice(len(seeds), p=weights / weights.sum()))]
    kinds = [k for k, (_, applies, _) in MUTATIONS.items() if seed.kind in applies]
    kw = np.array([MUTATIONS[k][2] for k in kinds])
    kind = str(rng.choice(kinds, p=kw / kw.sum()))
    saved = config.settings.reading_validation_mode, config.settings.writing_validation_mode
    config.settings.reading_validation_mode = config.IGNORE
    config.settings.writing_validation_mode = config.IGNORE
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            data, detail = MUTATIONS[kind][0](seed.data, rng, seed)
            if kind not in ("garbage", "cli-options") and rng.random() < 0.1:  # a second, byte-level blow
                extra = str(rng.choice(["truncate", "bitflip-header", "bitflip-pixels", "splice"]))
                data, more = MUTATIONS[extra][0](data, rng, seed)
                detail += f" + {extra}: {more}"
    except Exception as exc:  # the generator itself could not write this variant
        data, detail = seed.data, f"(variant not generated: {type(exc).__name__}: {str(exc)[:80]}) unchanged seed"
    finally:
        config.settings.reading_validation_mode, config.settings.writing_validation_mode = saved
    return Case(index=index, seed=seed.name, kind=kind, detail=detail, data=data,
                suffix=seed.suffix if rng.random() < 0.9 else str(rng.choice([".dcm", ".png", ".jpg", ""])),
                argv=_options(rng, seed, absurd=kind == "cli-options"), via_path=bool(rng.random() < 0.6),
                via_dataset=bool(seed.kind == "dicom" and rng.random() < 0.5))


# --------------------------------------------------------------------------- the worker


@dataclasses.dataclass(frozen=True)
class Result:
    index: int
    outcome: str  # success | error | uncaught | hang | crash
    error_class: str = ""
    exit_code: int = 0
    message: str = ""
    stderr: str = ""
    seconds: float = 0.0
    peak_rss_mb: float = 0.0

    @property
    def traceback_printed(self) -> bool:
        return "Traceback" in self.stderr

    @property
    def identifiers(self) -> bool:
        """A patient identifier of a seed in the error message or on stderr."""
        return any(word in self.message or word in self.stderr for word in IDENTIFIERS)

    def failed(self, max_rss_mb: float = 1500.0) -> bool:
        """Counts against orthoplan: uncaught, hang, crash, printed traceback or noise, a
        multi-line message, identifiers shown, or too much memory."""
        return (self.outcome in ("uncaught", "hang", "crash") or self.traceback_printed or bool(self.noise_lines)
                or (self.outcome == "error" and "\n" in self.message) or self.identifiers
                or self.peak_rss_mb > max_rss_mb)

    @property
    def noise_lines(self) -> list[str]:
        """stderr lines that are not orthoplan's own log lines (third-party logs, warnings)."""
        if self.error_class == "usage":  # argparse's usage message: what a usage error prints
            return []
        return [ln for ln in self.stderr.splitlines()
                if ln.strip() and not ln.startswith(("WARNING orthoplan", "INFO orthoplan", "ERROR orthoplan",
                                                     "DEBUG orthoplan", "orthoplan: error:"))]


def _peak_rss_reset() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@functools.lru_cache(maxsize=1)
def _parser() -> argparse.ArgumentParser:
    from orthoplan import cli

    return cli.build_parser()  # ~25 ms to build: once per worker


def _dataset_or_bytes(data: bytes) -> Any:
    """The Dataset a viewer would hand over (``pydicom.dcmread``'s, its values parsed lazily), or
    the bytes where pydicom cannot read them (that is pydicom's refusal, not orthoplan's)."""
    import warnings

    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(io.BytesIO(data), force=True)
    except Exception:
        return data


def run_case_inprocess(case: Case, workdir: Path) -> Result:
    """Run ``orthoplan calibrate FILE --json [options]``'s function on ``case`` in this process."""
    from orthoplan import cli
    from orthoplan.errors import OrthoplanError, exit_code_for

    path = workdir / f"case{case.suffix}"
    path.write_bytes(case.data)
    argv = ["calibrate", str(path) if case.via_path else "-", "--json", *case.argv]
    t0 = time.perf_counter()
    out = io.StringIO()
    try:
        args = _parser().parse_args(argv)
        if not case.via_path:  # the library entry point on bytes or a Dataset (the CLI reads paths)
            args.image = _dataset_or_bytes(case.data) if case.via_dataset else case.data
        with contextlib.redirect_stdout(out):
            cli.cmd_calibrate(args)
        json.loads(out.getvalue())
        return Result(case.index, "success", seconds=time.perf_counter() - t0)
    except OrthoplanError as exc:
        return Result(case.index, "error", type(exc).__name__, exit_code_for(exc), str(exc),
                      seconds=time.perf_counter() - t0)
    except SystemExit as exc:  # argparse refused an option: a usage error
        return Result(case.index, "error", "usage", int(exc.code or 0), "", seconds=time.perf_counter() - t0)
    except BaseException as exc:  # noqa: BLE001 - what the campaign is looking for
        tb = traceback.format_exc()
        return Result(case.index, "uncaught", type(exc).__name__, 70, f"{exc}"[:300] + "\n" + tb[-2500:],
                      seconds=time.perf_counter() - t0)


def _worker_main(conn: Any, stderr_path: str, rlimit_mb: int) -> None:
    """The worker: stderr to a file, the CLI's logging, a memory ceiling; then one case per message."""
    import logging
    import resource

    fd = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 2)
    sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", buffering=0), write_through=True)
    from orthoplan import calibration, cli, image  # noqa: F401 - imported before the ceiling

    for h in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(h)
    if hasattr(cli, "configure_logging"):
        cli.configure_logging(0)
    else:  # an older orthoplan: what its main() did
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if rlimit_mb:
        soft = _vm_size_mb() + rlimit_mb
        resource.setrlimit(resource.RLIMIT_AS, (int(soft * 2**20), resource.RLIM_INFINITY))
    workdir = Path(tempfile.mkdtemp(prefix="orthoplan-fuzz-"))
    while True:
        try:
            case = conn.recv()
        except EOFError:
            break
        if case is None:
            break
        start = os.lseek(2, 0, os.SEEK_END)
        _peak_rss_reset()
        res = run_case_inprocess(case, workdir)
        sys.stderr.flush()
        with open(stderr_path, "rb") as fh:
            fh.seek(start)
            err = fh.read(20000).decode("utf-8", "replace")
        conn.send(dataclasses.replace(res, stderr=err, peak_rss_mb=_peak_rss_mb()))


def _vm_size_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Worker:
    """A worker process that runs one case at a time; restarted after a hang or a crash."""

    def __init__(self, rlimit_mb: int) -> None:
        self.rlimit_mb = rlimit_mb
        self.dir = Path(tempfile.mkdtemp(prefix="orthoplan-fuzz-w-"))
        self.proc: Any = None
        self.conn: Any = None
        self.case: Case | None = None
        self.started = 0.0

    def start(self) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, str(self.dir / "stderr.txt"), self.rlimit_mb),
                                daemon=True)
        here = str(Path(__file__).resolve().parent)
        added = here not in sys.path
        if added:  # the spawned worker imports this module by name, from the parent's sys.path
            sys.path.insert(0, here)
        try:
            self.proc.start()
        finally:
            if added:
                sys.path.remove(here)
        child.close()
        self.conn = parent

    def submit(self, case: Case) -> None:
        if self.proc is None or not self.proc.is_alive():
            self.start()
        self.case, self.started = case, time.perf_counter()
        self.conn.send(case)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(5)
        self.proc = None

    def close(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            with contextlib.suppress(Exception):
                self.conn.send(None)
            self.proc.join(5)
            if self.proc.is_alive():
                self.kill()


def run_cases(cases: Any, *, timeout_s: float = 10.0, jobs: int = 1, rlimit_mb: int = 3000,
              on_result: Callable[[Case, Result], None] | None = None) -> list[tuple[Case, Result]]:
    """Run ``cases`` (an iterable of :class:`Case`) in ``jobs`` worker processes, each case within
    ``timeout_s`` seconds (the first case of a fresh worker gets 60 s more for its imports)."""
    workers = [Worker(rlimit_mb) for _ in range(max(1, jobs))]
    results: list[tuple[Case, Result]] = []
    it = iter(cases)
    pending = True
    fresh: dict[int, bool] = {}

    def finish(w: Worker, res: Result) -> None:
        assert w.case is not None
        results.append((w.case, res))
        if on_result:
            on_result(w.case, res)
        w.case = None

    try:
        while True:
            for w in workers:
                if w.case is None and pending:
                    case = next(it, None)
                    if case is None:
                        pending = False
                        break
                    fresh[id(w)] = w.proc is None or not w.proc.is_alive()
                    w.submit(case)
            busy = [w for w in workers if w.case is not None]
            if not busy:
                break
            now = time.perf_counter()
            limit = {id(w): w.started + timeout_s + (60.0 if fresh.get(id(w)) else 0.0) for w in busy}
            ready = mp_wait([w.conn for w in busy] + [w.proc.sentinel for w in busy],
                            timeout=max(0.0, min(limit.values()) - now))
            for w in busy:
                if w.conn in ready:
                    try:
                        finish(w, w.conn.recv())
                        continue
                    except (EOFError, OSError):
                        pass
                if w.proc.sentinel in ready or (w.conn in ready):
                    code = w.proc.exitcode
                    finish(w, Result(w.case.index, "crash", f"exit {code}", exitcode_of(code),
                                     f"the worker died (exit code {code})", seconds=time.perf_counter() - w.started))
                    w.kill()
                elif time.perf_counter() > limit[id(w)]:
                    finish(w, Result(w.case.index, "hang", "", 0, f"over {timeout_s:g} s",
                                     seconds=time.perf_counter() - w.started))
                    w.kill()
    finally:
        for w in workers:
            w.close()
    return results


def exitcode_of(code: int | None) -> int:
    return 128 + (-code) if code is not None and code < 0 else (code or 0)


# --------------------------------------------------------------------------- the CLI in a subprocess


def run_cli(case: Case, workdir: Path, timeout_s: float) -> Result:
    """``python -m orthoplan.cli calibrate FILE --json [options]`` on ``case``: its exit code and stderr."""
    path = workdir / f"cli-{case.index}{case.suffix}"
    path.write_bytes(case.data)
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(ROOT))  # the orthoplan of PYTHONPATH, else this checkout's
    env["PYTHONWARNINGS"] = ""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "orthoplan.cli", "calibrate", str(path), "--json", *case.argv],
                              capture_output=True, timeout=timeout_s + 30, env=env, text=True, cwd=workdir)
    except subprocess.TimeoutExpired:
        return Result(case.index, "hang", seconds=time.perf_counter() - t0)
    finally:
        path.unlink(missing_ok=True)
    rc = proc.returncode
    outcome = "success" if rc == 0 else "uncaught" if rc == 70 else "crash" if rc < 0 or rc > 70 else "error"
    if rc == 0:
        try:
            json.loads(proc.stdout)
        except ValueError:
            outcome = "uncaught"
    return Result(case.index, outcome, "usage" if rc == 2 else f"exit {rc}", rc, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "",
                  stderr=proc.stderr, seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------- report


COLUMNS = ("cases", "success", "clean errors", "uncaught", "hangs", "crashes", "tracebacks", "noise", "multi-line",
           "identifiers", "over RSS")


def tally(pairs: list[tuple[Case, Result]], max_rss_mb: float = 1500.0) -> dict[str, collections.Counter]:
    """Counts per mutation kind (and ``"all"``) of every column in :data:`COLUMNS`."""
    table: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for case, res in pairs:
        for key in (case.kind, "all"):
            row = table[key]
            row["cases"] += 1
            row[{"success": "success", "error": "clean errors", "uncaught": "uncaught", "hang": "hangs",
                 "crash": "crashes"}[res.outcome]] += 1
            row["tracebacks"] += res.traceback_printed
            row["noise"] += bool(res.noise_lines)
            row["multi-line"] += res.outcome == "error" and "\n" in res.message
            row["identifiers"] += res.identifiers
            row["over RSS"] += res.peak_rss_mb > max_rss_mb
    return table


def failures(pairs: list[tuple[Case, Result]], max_rss_mb: float = 1500.0) -> list[tuple[Case, Result]]:
    """The cases that count against orthoplan."""
    return [(c, r) for c, r in pairs if r.failed(max_rss_mb)]


def format_table(table: dict[str, collections.Counter]) -> str:
    kinds = sorted(k for k in table if k != "all") + ["all"]
    w = max(len(k) for k in kinds) + 2
    cw = [max(7, len(c) + 2) for c in COLUMNS]
    lines = ["kind".ljust(w) + "".join(c.rjust(n) for c, n in zip(COLUMNS, cw))]
    for k in kinds:
        lines.append(k.ljust(w) + "".join(str(table[k][c]).rjust(n) for c, n in zip(COLUMNS, cw)))
    return "\n".join(lines)


def format_errors(pairs: list[tuple[Case, Result]]) -> str:
    by = collections.Counter((r.exit_code, r.error_class) for _, r in pairs if r.outcome == "error")
    return "\n".join(f"  exit {code:>3d}  {cls:28s} {n:>6d}" for (code, cls), n in sorted(by.items()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=10_000, help="number of cases (default 10000)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"campaign seed (default {DEFAULT_SEED})")
    p.add_argument("--timeout-s", type=float, default=10.0, help="time limit per case (default 10 s)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1; the machines are shared)")
    p.add_argument("--cli-every", type=int, default=100,
                   help="also run every Nth case through the real command in a subprocess (0: never; default 100)")
    p.add_argument("--max-rss-mb", type=float, default=1500.0, help="flag a case whose peak memory exceeds this")
    p.add_argument("--rlimit-mb", type=int, default=3000, help="address-space ceiling of the worker above its start")
    p.add_argument("--only", type=int, nargs="+", metavar="INDEX", help="run only these case indices, and show details")
    p.add_argument("--save-failures", type=Path, metavar="DIR", help="write the failing inputs here")
    p.add_argument("--real-dir", type=Path, default=DEFAULT_SHARED, help="../shared/data/real (seeds from real films)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the counts as JSON")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    seeds = build_seeds(args.real_dir if args.real_dir.is_dir() else None)
    print(f"seeds ({time.perf_counter() - t0:.1f} s): " + ", ".join(f"{s.name} ({len(s.data)} B)" for s in seeds))
    indices = args.only if args.only else range(args.cases)
    cases = (make_case(seeds, args.seed, i) for i in indices)
    done = 0
    t1 = time.perf_counter()

    def progress(case: Case, res: Result) -> None:
        nonlocal done
        done += 1
        bad = res.failed(args.max_rss_mb)
        if bad or args.only:
            print(f"case {case.index} [{case.kind} on {case.seed}: {case.detail}; options {' '.join(case.argv)}]"
                  f" -> {res.outcome} {res.error_class} ({res.seconds:.2f} s, {res.peak_rss_mb:.0f} MB)")
            if args.only or bad:
                print("   " + (res.message if args.only else res.message.splitlines()[0] if res.message else "")[:3000])
                for ln in (res.noise_lines if not args.only else res.stderr.splitlines())[:10]:
                    print(f"   stderr: {ln[:300]}")
        if done % 500 == 0:
            rate = (time.perf_counter() - t1) / done
            print(f"... {done} cases, {1000 * rate:.0f} ms/case", flush=True)

    pairs = run_cases(cases, timeout_s=args.timeout_s, jobs=args.jobs, rlimit_mb=args.rlimit_mb, on_result=progress)
    elapsed = time.perf_counter() - t1
    table = tally(pairs, args.max_rss_mb)
    print(f"\n{len(pairs)} cases, seed {args.seed}, {elapsed:.0f} s ({1000 * elapsed / max(1, len(pairs)):.0f} ms/case), "
          f"time limit {args.timeout_s:g} s per case\n")
    print(format_table(table))
    print("\nclean errors by exit code and class:\n" + format_errors(pairs))
    peak = max((r.peak_rss_mb for _, r in pairs), default=0.0)
    print(f"\npeak resident memory of a case: {peak:.0f} MB")

    cli_pairs: list[tuple[Case, Result]] = []
    if args.cli_every and not args.only:
        sample = [c for c, _ in pairs if c.index % args.cli_every == 0]
        with tempfile.TemporaryDirectory(prefix="orthoplan-fuzz-cli-") as d:
            for case in sample:
                res = run_cli(case, Path(d), args.timeout_s)
                cli_pairs.append((case, res))
                if res.failed(args.max_rss_mb):
                    print(f"CLI case {case.index} [{case.kind} on {case.seed}: {case.detail}] -> {res.outcome} "
                          f"exit {res.exit_code}")
                    for ln in res.stderr.splitlines()[:8]:
                        print(f"   stderr: {ln[:300]}")
        ct = tally(cli_pairs)["all"]
        print(f"\n`orthoplan calibrate FILE --json` in a subprocess, every {args.cli_every}th case: "
              + ", ".join(f"{c} {ct[c]}" for c in COLUMNS))
        print("exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(collections.Counter(r.exit_code for _, r in cli_pairs).items())))

    bad = failures(pairs, args.max_rss_mb) + failures(cli_pairs, args.max_rss_mb)
    if args.save_failures and bad:
        args.save_failures.mkdir(parents=True, exist_ok=True)
        for c, r in bad:
            (args.save_failures / f"case{c.index}{c.suffix or '.bin'}").write_bytes(c.data)
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "cases": len(pairs), "timeout_s": args.timeout_s,
                                         "table": {k: dict(v) for k, v in table.items()},
                                         "cli": dict(tally(cli_pairs)["all"]) if cli_pairs else {}}, indent=2))
    print(f"\n{len(bad)} failing case(s)" + (": " + " ".join(str(c.index) for c, _ in bad[:50]) if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
