"""Train the heatmap landmark network (PyTorch + MONAI; the ``[train]`` extra).

One seeded function, :func:`train`, makes a model from training films and writes it as the
runner (:mod:`orthoplan.landmarks.network`) reads it: ``<name>.onnx`` (the network),
``<name>.json`` (channels, input size, how it was made, the data's attribution, the
confidence table) and ``<name>.npz`` (the PyTorch weights, so that a site can fine-tune).

Training films come from

* reference readings of real films (:func:`films_from_references`,
  :mod:`orthoplan.landmarks.references`);
* landmark files beside images, e.g. the landmarks a person placed or confirmed
  (:func:`films_from_landmark_files`) or plans read back from an archive's SRs
  (:func:`films_from_plans`);
* phantoms with their exact truth (:func:`films_from_phantoms`).

The network is MONAI's ``BasicUNet`` behind a stride-2 stem (heatmaps at half the input's
resolution); each channel's spatial softmax is trained towards a normalised Gaussian at the
landmark (cross-entropy), or towards the uniform distribution where the landmark is known to
be absent. Augmentation is
heavy: scale, rotation, translation and crops (one affine per sample, applied to image and
points together), horizontal flips with the sides swapped, contrast (gamma), intensity
scale, blur, noise and inverted films (MONOCHROME1 shown as stored), via MONAI's transforms.

Examples
--------
>>> films = films_from_phantoms(2, seed=0, rows=300, columns=360)     # doctest: +SKIP
>>> result = train(films, out="/tmp/m/ap-pelvis", epochs=1, seed=0)   # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from ..errors import LandmarkError
from ..frames import orientation_from_landmarks
from ..model import KNEE_AP_ANATOMY, KNEE_LATERAL_ANATOMY, LandmarkName, LandmarkSource
from .network import LATERAL_PREFIX, MODEL_FORMAT, canonical_transform, channel_pairs, letterbox, prepare_input

log = logging.getLogger(__name__)

#: The AP pelvis network's channels: the vocabulary's AP-pelvis landmarks, and the top of each
#: femoral head's dome (centre minus the radius towards the head), which gives the radius.
AP_PELVIS_ANATOMIES = (
    "femoral_head_center", "teardrop", "ischial_tuberosity", "lesser_trochanter", "greater_trochanter",
    "acetabular_lateral_edge", "sourcil_medial", "femoral_neck_center", "femoral_shaft_proximal",
    "femoral_shaft_distal",
)
HEAD_TOP = "femoral_head_top"
AP_PELVIS_CHANNELS = tuple(f"{a}_{s}" for a in AP_PELVIS_ANATOMIES + (HEAD_TOP,) for s in ("right", "left"))

#: The knee network's channels: on AP films the AP knee vocabulary and the two knee centres of
#: each knee (the patient's side as seen, like the pelvis's), on lateral films the lateral
#: vocabulary of the one knee shown, named ``lateral:<anatomy>`` (no side: a lateral view looks
#: the same for either knee, and a flip keeps every channel). One network reads both views.
KNEE_AP_CHANNEL_ANATOMIES = KNEE_AP_ANATOMY + ("femoral_knee_center", "tibial_knee_center")
KNEE_AP_CHANNELS = tuple(f"{a}_{s}" for a in KNEE_AP_CHANNEL_ANATOMIES for s in ("right", "left"))
KNEE_LATERAL_CHANNELS = tuple(LATERAL_PREFIX + a for a in KNEE_LATERAL_ANATOMY)
KNEE_CHANNELS = KNEE_AP_CHANNELS + KNEE_LATERAL_CHANNELS

#: The views each network learns from (``orthoplan train --network``): the AP pelvis network
#: (``models/ap-pelvis``) AP pelvis and hip films; the knee network (``models/knee``, 320 px) AP
#: and lateral knee films (it reads lateral films, and AP films' axis points); the AP knee network
#: (``models/knee-ap``, 448 px) AP knee films.
NETWORK_VIEWS = {"ap-pelvis": ("ap-pelvis", "ap-hip"), "knee": ("knee-ap", "knee-lateral"), "knee-ap": ("knee-ap",)}
#: Each network's channels (a model's description names them too) and its models' ``view``.
NETWORK_CHANNELS = {"ap-pelvis": AP_PELVIS_CHANNELS, "knee": KNEE_CHANNELS, "knee-ap": KNEE_CHANNELS}
NETWORK_MODEL_VIEW = {"ap-pelvis": "ap-pelvis", "knee": "knee", "knee-ap": "knee"}

#: The largest zoom of the augmentation (a part of the film, e.g. one hip, fills the input).
ZOOM_MAX = 2.0

#: Reasons for a missing point that mean "not in the film": the network learns to show nothing.
ABSENT_WORDS = ("not in the film", "not in film", "outside the film", "not shown", "off the film", "cut off",
                "not on the film", "outside the image", "not in the image")

FRACATLAS_ATTRIBUTION = (
    "FracAtlas (CC BY 4.0): Abedeen I., Rahman M.A., Zohra Prottyasha F., Ahmed T., Mohmud Chowdhury T., "
    "Shatabda S. \"FracAtlas: A Dataset for Fracture Classification, Localization and Segmentation of "
    "Musculoskeletal Radiographs\". Scientific Data 10, 521 (2023). doi:10.1038/s41597-023-02432-4. "
    "Data: figshare, doi:10.6084/m9.figshare.22363012. Landmark references: orthoplan (datasets/fracatlas-hip)."
)
FRACATLAS_KNEE_ATTRIBUTION = FRACATLAS_ATTRIBUTION.replace("datasets/fracatlas-hip", "datasets/fracatlas-knee")


@dataclass(frozen=True)
class TrainingFilm:
    """A film ready for training: head up, reduced, normalised; points in its pixels.

    ``points`` is ``(C, 2)`` (NaN where unknown); ``absent`` marks channels known to be
    outside the film (trained towards an empty heatmap); ``key`` names the film (for folds).
    """

    key: str
    image: np.ndarray
    points: np.ndarray
    absent: np.ndarray
    group: str = ""
    weight: float = 1.0


def _reduced(display: np.ndarray, superior: str, long_side: int) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """The head-up film normalised and reduced to ``long_side``, and the map of stored
    ``(x, y)`` into its pixels."""
    t = canonical_transform(display.shape, superior)
    up = t.array(display)
    img, s = prepare_input(up, long_side)
    r, c = letterbox(up.shape, long_side)[1]
    return img[:r, :c].copy(), lambda xy: t.apply(xy) * s


def film_from_points(key: str, display: np.ndarray, points: dict[str, tuple[float, float, float | None]],
                     channels: Sequence[str], superior: str = "up", patient_left_x: int = 1,
                     absent: Iterable[str] = (), long_side: int = 480, group: str = "", weight: float = 1.0
                     ) -> TrainingFilm:
    """A :class:`TrainingFilm` from a display image and ``{name: (x, y, radius or None)}``.

    Names are the patient's; a film displayed with the patient's left on the viewer's left
    (``patient_left_x == -1``) has its channels' sides swapped so that they stay "as seen".
    """
    from .network import swap_side

    img, to_film = _reduced(np.asarray(display, dtype=np.float32), superior, long_side)
    pts = np.full((len(channels), 2), np.nan)
    index = {n: i for i, n in enumerate(channels)}
    for name, (x, y, radius) in points.items():
        seen = swap_side(name) if patient_left_x == -1 else name
        if seen in index:
            pts[index[seen]] = to_film([(x, y)])[0]
        if radius and name.startswith("femoral_head_center_"):
            top = seen.replace("femoral_head_center", HEAD_TOP)
            if top in index:
                # "up" is the head-up film's -y: the dome's top is one radius above the centre
                c = to_film([(x, y)])[0]
                s = np.hypot(*(to_film([(x + 1.0, y)])[0] - c))
                pts[index[top]] = c - (0.0, radius * s)
    gone = np.zeros(len(channels), bool)
    for name in absent:
        seen = swap_side(name) if patient_left_x == -1 else name
        for n in (seen, seen.replace("femoral_head_center", HEAD_TOP)):
            if n in index and not np.isfinite(pts[index[n]]).all():
                gone[index[n]] = True
    return TrainingFilm(key, img, pts, gone, group or key, weight)


# --------------------------------------------------------------------------- sources


def films_from_references(refs, root: str | os.PathLike, channels: Sequence[str] = AP_PELVIS_CHANNELS,
                          long_side: int = 480, patients: Sequence[str] | None = None) -> list[TrainingFilm]:
    """Training films from reference readings (:class:`~orthoplan.landmarks.references.Reference`)
    of images under ``root``. Unusable readings and unreadable images are left out (logged).

    A lateral knee reading's points go to the ``lateral:`` channels (its side dropped) and
    every AP channel is marked absent; an AP knee reading marks the lateral channels absent.
    """
    from ..image import load

    films = []
    for ref in refs:
        if not ref.usable or not ref.points or (patients and ref.patient not in patients):
            continue
        try:
            rad = load(Path(root) / ref.image)
        except Exception as exc:  # noqa: BLE001 - an unreadable film is left out, said once
            log.warning("training: %s left out (%s)", ref.image, exc)
            continue
        pts, absent, plx = reference_points(ref, channels)
        films.append(film_from_points(ref.stem, rad.display, pts, channels, ref.superior, plx, absent, long_side))
    return films


def reference_points(ref, channels: Sequence[str]) -> tuple[dict, list[str], int]:
    """A reading's points ``{channel name: (x, y, radius)}``, the names known absent and the
    display's ``patient_left_x`` (:func:`displayed_left_x`), for :func:`film_from_points`."""
    absent = [n for n, why in ref.missing.items() if any(w in why.lower() for w in ABSENT_WORDS)]
    pts, absent = channel_points({n: (p.x, p.y, p.radius) for n, p in ref.points.items()}, absent, ref.view, channels)
    return pts, absent, 1 if ref.view == "knee-lateral" else displayed_left_x(ref)


def channel_points(pts: dict, absent: Iterable[str], view: str, channels: Sequence[str]) -> tuple[dict, list[str]]:
    """A film's points ``{name: (x, y, radius)}`` and the names known absent, named as the
    network's channels: a lateral knee film's points go to the ``lateral:`` channels (the side
    dropped) and every other channel is absent; an AP knee film's lateral channels are absent.

    >>> channel_points({"femoral_posterior_condyle_left": (3.0, 4.0, None)}, [], "knee-lateral",
    ...                ("femoral_condyle_medial_left", "lateral:femoral_posterior_condyle"))
    ({'lateral:femoral_posterior_condyle': (3.0, 4.0, None)}, ['femoral_condyle_medial_left'])
    """
    if not isinstance(pts, Mapping) or isinstance(absent, (str, bytes)):
        raise LandmarkError("channel points: the points must map names to (x, y, radius), the absent names be a list")
    if view == "knee-lateral":
        def strip(n: str) -> str:
            return LATERAL_PREFIX + n.rsplit("_", 1)[0]

        return ({strip(n): v for n, v in pts.items()},
                [strip(n) for n in absent] + [c for c in channels if not c.startswith(LATERAL_PREFIX)])
    if view == "knee-ap":
        return dict(pts), list(absent) + [c for c in channels if c.startswith(LATERAL_PREFIX)]
    return dict(pts), list(absent)


def view_of_points(names: Iterable[str]) -> str | None:
    """The view whose vocabulary a film's landmark names belong to: ``"knee-lateral"``,
    ``"knee-ap"`` or ``"ap-pelvis"``; ``None`` where they do not tell (a lateral knee film's
    axis points alone read like an AP knee film's) or mix views.

    >>> view_of_points(["tibial_plateau_anterior_left", "knee_tibial_axis_distal_left"])
    'knee-lateral'
    >>> view_of_points(["knee_tibial_axis_distal_left"]) is None
    True
    """
    if isinstance(names, (str, bytes)) or not all(isinstance(n, str) for n in names):
        raise LandmarkError("the view of points: give the landmark names (strings), not one string")
    anatomies = {n.rsplit("_", 1)[0] for n in names}
    shared = set(KNEE_AP_ANATOMY) & set(KNEE_LATERAL_ANATOMY)
    kinds = {view for view, vocabulary in (("knee-lateral", set(KNEE_LATERAL_ANATOMY) - shared),
                                          ("knee-ap", set(KNEE_AP_CHANNEL_ANATOMIES) - shared),
                                          ("ap-pelvis", set(AP_PELVIS_ANATOMIES))) if anatomies & vocabulary}
    return kinds.pop() if len(kinds) == 1 else None


def displayed_left_x(ref) -> int:
    """+1 when the reference film shows the patient's left towards the viewer's right once
    head-up (the standard AP display), -1 when its readers found it the other way round (an
    R/L marker): judged from the two heads (pelvis) or from where each knee's lateral points
    lie against its medial ones (knee), else assumed standard."""
    t = canonical_transform((ref.height, ref.width), ref.superior)

    def x_of(name: str) -> float | None:
        p = ref.points.get(name)
        return None if p is None else float(t.apply([p.xy])[0][0])

    a, b = x_of("femoral_head_center_right"), x_of("femoral_head_center_left")
    if a is not None and b is not None:
        return 1 if b > a else -1
    votes = 0
    for side, sign in (("right", 1), ("left", -1)):
        for anatomy in ("femoral_condyle", "femoral_epicondyle", "tibial_plateau"):
            lat, med = x_of(f"{anatomy}_lateral_{side}"), x_of(f"{anatomy}_medial_{side}")
            if lat is not None and med is not None and lat != med:
                votes += sign * (1 if lat < med else -1)  # the right knee's lateral side is the viewer's left
    return -1 if votes < 0 else 1


def films_from_phantoms(n: int, seed: int = 0, channels: Sequence[str] = AP_PELVIS_CHANNELS, long_side: int = 480,
                        rows: int = 900, columns: int = 1100) -> list[TrainingFilm]:
    """``n`` phantom AP pelvis films (:func:`orthoplan.phantoms.pelvis.make_pelvis`) with their
    exact landmarks; spacing, exposure and implants vary with the seed."""
    from ..image import from_dataset
    from ..phantoms.pelvis import make_pelvis

    films = []
    rng = np.random.default_rng(seed)
    for i in range(n):
        s = int(rng.integers(0, 1_000_000))
        case = make_pelvis(seed=s, rows=rows, columns=columns, detector_spacing_mm=float(rng.uniform(0.33, 0.45)),
                           photometric="MONOCHROME1" if i % 4 == 3 else "MONOCHROME2",
                           implant_side=("left" if i % 7 == 5 else None), ball_diameter_mm=25.0)
        rad = from_dataset(case.dataset)
        pts = {lm.name.value: (lm.x, lm.y, lm.radius_px) for lm in case.landmarks}
        films.append(film_from_points(f"phantom-{s}", rad.display, pts, channels,
                                      rad.orientation.superior_name,
                                      rad.orientation.patient_left_x, (), long_side, group="phantoms", weight=0.5))
    return films


def films_from_knee_phantoms(n: int, seed: int = 0, channels: Sequence[str] = KNEE_CHANNELS, long_side: int = 480
                             ) -> list[TrainingFilm]:
    """``n`` phantom knee films (:mod:`orthoplan.phantoms.knee`), AP and lateral in turn, left
    and right, with their exact landmarks."""
    from ..image import from_dataset
    from ..phantoms.knee import make_knee_ap, make_knee_lateral

    films = []
    rng = np.random.default_rng(seed)
    for i in range(n):
        s = int(rng.integers(0, 1_000_000))
        side = "left" if (i // 2) % 2 else "right"
        make = make_knee_ap if i % 2 == 0 else make_knee_lateral
        case = make(seed=s, side=side, rows=1000, columns=800, detector_spacing_mm=float(rng.uniform(0.45, 0.55)),
                    photometric="MONOCHROME1" if i % 5 == 4 else "MONOCHROME2")
        rad = from_dataset(case.dataset)
        if make is make_knee_ap:
            pts = {lm.name.value: (lm.x, lm.y, None) for lm in case.landmarks}
            plx, absent = rad.orientation.patient_left_x, [c for c in channels if c.startswith(LATERAL_PREFIX)]
        else:
            pts = {LATERAL_PREFIX + lm.name.anatomy: (lm.x, lm.y, None) for lm in case.landmarks}
            plx, absent = 1, [c for c in channels if not c.startswith(LATERAL_PREFIX)]
        films.append(film_from_points(f"knee-phantom-{s}", rad.display, pts, channels,
                                      rad.orientation.superior_name, plx, absent, long_side,
                                      group="phantoms", weight=0.5))
    return films


def films_from_landmark_files(folder: str | os.PathLike, channels: Sequence[str] = AP_PELVIS_CHANNELS,
                              long_side: int = 480, sources: Sequence[str] = ("manual", "refined"),
                              views: Sequence[str] | None = None) -> list[TrainingFilm]:
    """Training films from a folder of ``<image>`` + ``<image stem>.json`` pairs.

    The JSON is the landmark file of ``orthoplan measure --landmarks`` (``{"landmarks": {name:
    [x, y] or {"x", "y", "source", "radius"}}}``); only landmarks whose ``source`` is one of
    ``sources`` (placed or confirmed by a person; a plain ``[x, y]`` counts as manual) are
    used, so a detector is never trained on its own unchecked output.

    ``views`` keeps only the films of those views (:data:`NETWORK_VIEWS`): a file's ``"view"``
    (``orthoplan detect --json`` writes it), else the view its landmark names belong to
    (:func:`view_of_points`); a film whose view is not known is then left out, said. The
    file's ``"orientation"`` (``orthoplan detect --json`` writes the one its points are named
    in: a film displayed mirrored) is used where given, else the orientation its AP pelvis or
    knee landmarks show.
    """
    from ..image import load
    from ..model import ImageOrientation

    films = []
    for lm_path in sorted(Path(folder).glob("*.json")):
        images = [p for p in lm_path.parent.glob(lm_path.stem + ".*") if p.suffix.lower() != ".json"]
        if not images:
            log.warning("training: no image beside %s", lm_path.name)
            continue
        try:
            data = json.loads(lm_path.read_text(encoding="utf-8"))
            rad = load(images[0])
        except Exception as exc:  # noqa: BLE001
            log.warning("training: %s left out (%s)", lm_path.name, exc)
            continue
        pts = {}
        for name, v in (data.get("landmarks") or {}).items():
            if isinstance(v, dict):
                if str(v.get("source", "manual")) not in sources:
                    continue
                pts[name] = (float(v["x"]), float(v["y"]), v.get("radius") or v.get("radius_px"))
            else:
                pts[name] = (float(v[0]), float(v[1]), None)
        if not pts:
            continue
        view = data.get("view") or view_of_points(pts)
        if views is not None and view not in views:
            log.warning("training: %s left out (%s; this network learns from %s films%s)", lm_path.name,
                        f"its view is {view}" if view else "its landmarks do not say which view it is",
                        " and ".join(views), "" if view else ': add "view" to the file')
            continue
        try:
            orientation = ImageOrientation.from_dict(data["orientation"]) if "orientation" in data else None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("training: %s left out (its \"orientation\" is not an orientation: %s)", lm_path.name, exc)
            continue
        if orientation is None:  # a film without orientation tags stored turned: as its landmarks show
            named = {k: v[:2] for k, v in pts.items() if k in {n.value for n in LandmarkName}}
            orientation = orientation_from_landmarks(named, rad.orientation)
        pts, absent = channel_points(pts, (), view or "", channels)
        films.append(film_from_points(lm_path.stem, rad.display, pts, channels, orientation.superior_name,
                                      1 if view == "knee-lateral" else orientation.patient_left_x, absent,
                                      long_side))
    return films


def films_from_plans(pairs: Iterable[tuple[object, object]], channels: Sequence[str] = AP_PELVIS_CHANNELS,
                     long_side: int = 480, views: Sequence[str] | None = None) -> list[TrainingFilm]:
    """Training films from ``(radiograph, plan)`` pairs, e.g. plans read back from an archive.

    Only the plan's landmarks that a person placed or confirmed (``source`` manual or
    refined) are used; the film is read in the plan's orientation (a film stored turned too).
    ``views`` keeps only the plans of those views (the plan's ``view``; a plan that names none,
    such as one read from an SR written before plans said their view, the view its landmark
    names belong to: :func:`view_of_points`).
    """
    films = []
    for rad, plan in pairs:
        pts = {lm.name.value: (lm.x, lm.y, lm.radius_px) for lm in plan.landmarks
               if lm.source in (LandmarkSource.MANUAL, LandmarkSource.REFINED)}
        if not pts:
            continue
        view = plan.view or view_of_points(pts)
        if views is not None and view not in views:
            log.warning("training: a plan left out (%s; this network learns from %s films)",
                        f"its view is {view}" if view else "it does not say which view it is", " and ".join(views))
            continue
        pts, absent = channel_points(pts, (), view or "", channels)
        films.append(film_from_points(str(rad.reference.sop_instance_uid or len(films)), rad.display, pts,
                                      channels, plan.orientation.superior_name,
                                      1 if view == "knee-lateral" else plan.orientation.patient_left_x,
                                      absent, long_side))
    return films


# --------------------------------------------------------------------------- network


def make_network(n_channels: int, features: Sequence[int] = (16, 24, 32, 64, 128, 16)):
    """The heatmap network: a stride-2 stem, then MONAI's BasicUNet (heatmaps at half the
    input's resolution). Batch norm and ReLU: three times faster on a CPU than instance norm,
    and folded into the convolutions in the exported model."""
    import torch
    from monai.networks.blocks import Convolution
    from monai.networks.nets import BasicUNet

    class HeatmapNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = Convolution(2, 1, features[0], strides=2, kernel_size=3, act="relu", norm="batch")
            self.unet = BasicUNet(spatial_dims=2, in_channels=features[0], out_channels=n_channels,
                                  features=tuple(features), norm="batch", act="relu")

        def forward(self, x):
            return self.unet(self.stem(x))

    return HeatmapNet()


# --------------------------------------------------------------------------- augmentation


def _affine_batch(films: Sequence[TrainingFilm], size: int, rng: np.random.Generator, augment: bool,
                  flip_perm: np.ndarray):
    """Images ``(N, 1, S, S)`` and points ``(N, C, 2)`` (input pixels) after a random affine
    per film (scale, rotation, translation, flip with sides swapped)."""
    import torch
    import torch.nn.functional as F

    n = len(films)
    imgs = torch.zeros((n, 1, size, size))
    pts = np.full((n, films[0].points.shape[0], 2), np.nan)
    absent = np.zeros((n, films[0].points.shape[0]), bool)
    for i, f in enumerate(films):
        h, w = f.image.shape
        base = size / max(h, w)  # letterbox scale
        if augment:
            # the whole film, or a part of it zoomed in (single-hip films, crops)
            zoom = float(np.exp(rng.uniform(math.log(1.1), math.log(ZOOM_MAX)))) if rng.random() < 0.6 else float(
                rng.uniform(0.85, 1.1))
            ang = math.radians(rng.uniform(-12, 12))
            flip = rng.random() < 0.5
        else:
            zoom, ang, flip = 1.0, 0.0, False
        s = base * zoom
        # output point q = R * s * (p - c_in) + c_out; centre the film, then shift randomly
        c_in = np.array([w / 2, h / 2])
        c_out = np.array([w * base / 2, h * base / 2]) if not augment else np.array([size / 2, size / 2]) + rng.uniform(
            -0.25, 0.25, 2) * size * max(zoom - 0.6, 0.2)
        rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
        a = rot * s
        if flip:
            a = np.array([[-1.0, 0], [0, 1.0]]) @ a
            c_out = c_out.copy()
            c_out[0] = size - c_out[0] if augment else c_out[0]
        b = c_out - a @ c_in
        p = f.points @ a.T + b
        ab = f.absent.copy()
        if flip:
            p, ab = p[flip_perm], ab[flip_perm]
        pts[i], absent[i] = p, ab
        # grid_sample wants, for each output pixel, the input location in [-1, 1]
        inv = np.linalg.inv(np.vstack([np.c_[a, b], [0, 0, 1]]))
        # output normalised -> output px -> input px -> input normalised
        o2p = np.array([[size / 2, 0, size / 2], [0, size / 2, size / 2], [0, 0, 1]])
        p2n = np.array([[2 / w, 0, -1], [0, 2 / h, -1], [0, 0, 1]])
        theta = (p2n @ inv @ o2p)[:2]
        grid = F.affine_grid(torch.tensor(theta[None], dtype=torch.float32), (1, 1, size, size), align_corners=False)
        img = torch.from_numpy(np.ascontiguousarray(f.image))[None, None]
        imgs[i] = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
        if augment and rng.random() < 0.25:  # a collimated / cropped film: blank outside a box
            x0, y0 = rng.integers(0, size // 3, 2)
            x1, y1 = size - rng.integers(0, size // 3, 2)
            keep = torch.zeros((size, size))
            keep[y0:y1, x0:x1] = 1
            imgs[i, 0] *= keep
            out = ~((p[:, 0] >= x0) & (p[:, 0] < x1) & (p[:, 1] >= y0) & (p[:, 1] < y1)) & np.isfinite(p).all(1)
            pts[i][out] = np.nan
            absent[i][out] = True
    return imgs, pts, absent


def _intensity(imgs, rng: np.random.Generator):
    """Contrast, scale, blur, noise (MONAI array transforms) and inverted films."""
    import torch
    from monai.transforms import RandAdjustContrast, RandGaussianNoise, RandGaussianSmooth, RandScaleIntensity

    seed = int(rng.integers(0, 2**31 - 1))
    tfs = [RandAdjustContrast(prob=0.5, gamma=(0.6, 1.7)), RandScaleIntensity(factors=0.25, prob=0.5),
           RandGaussianSmooth(sigma_x=(0.3, 1.2), sigma_y=(0.3, 1.2), prob=0.25),
           RandGaussianNoise(prob=0.5, std=0.05)]
    for k, t in enumerate(tfs):
        t.set_random_state(seed + k)
    fgs = imgs > 0
    # a quarter of the batch at a time through MONAI's transforms (the images are the channels:
    # one draw of the parameters per group; per image would cost more than the network)
    y = imgs[:, 0].clamp(min=0)
    groups = []
    for g in torch.split(y, max(1, len(y) // 4)):
        for t in tfs:
            g = torch.as_tensor(t(g))
        groups.append(g)
    y = torch.cat(groups)[:, None]
    out = []
    for x, fg in zip(y, fgs):
        y = x
        if rng.random() < 0.1:  # a MONOCHROME1 film shown as stored: bone dark
            y = torch.where(fg, 1.0 - y, y)
        out.append(y)
    return torch.stack(out)


def site_processing(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` (0-1, bone bright) as another site's image processing might show it: either
    edge enhancement (an unsharp mask, σ 1-5 % of the image, gain 0.5-2) or local contrast
    equalisation (CLAHE, clip limit 0.01-0.03), each half the time.

    Real films from other vendors come out of such processing (multi-frequency enhancement,
    equalisation); FracAtlas films mostly do not show it strongly. Measured on held-out films
    by ``scripts/processing_robustness.py``.

    Examples
    --------
    >>> img = np.zeros((64, 64), np.float32); img[16:48, 16:48] = 0.6
    >>> out = site_processing(img, np.random.default_rng(0))
    >>> out.shape, out.dtype.name, float(out.min()) >= 0.0, float(out.max()) <= 1.0
    ((64, 64), 'float32', True, True)
    """
    from scipy import ndimage

    img = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
    if rng.random() < 0.5:
        sigma = rng.uniform(0.01, 0.05) * max(img.shape)
        out = img + rng.uniform(0.5, 2.0) * (img - ndimage.gaussian_filter(img, sigma))
    else:
        from skimage import exposure

        out = exposure.equalize_adapthist(img, kernel_size=max(8, max(img.shape) // 8),
                                          clip_limit=rng.uniform(0.01, 0.03))
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _site_processed(imgs, rng: np.random.Generator, share: float):
    """A batch with ``share`` of its images through :func:`site_processing` (the film's
    foreground only: letterbox and collimation stay blank)."""
    import torch

    if share <= 0:
        return imgs
    out = imgs.clone()
    for i in range(len(imgs)):
        if rng.random() < share:
            x = imgs[i, 0].numpy()
            fg = x > 0
            out[i, 0] = torch.from_numpy(np.where(fg, site_processing(x, rng), 0.0).astype(np.float32))
    return out


def heatmap_targets(pts: np.ndarray, absent: np.ndarray, out_size: int, stride: int, sigma: float):
    """Target distributions ``(N, C, H, W)`` (each sums to 1) and per-channel weights ``(N, C)``.

    A point in view: a normalised Gaussian at it. A point known to be absent (outside the
    film, or cropped away): the uniform distribution, weight :data:`ABSENT_WEIGHT` (the
    network learns to spread its mass, which reads as a low confidence). Unknown: weight 0.
    """
    import torch

    n, c, _ = pts.shape
    g = (np.arange(out_size) + 0.5)
    targets = np.full((n, c, out_size, out_size), 1.0 / out_size**2, np.float32)
    weights = np.zeros((n, c), np.float32)
    q = pts / stride
    for i in range(n):
        for k in range(c):
            if np.isfinite(q[i, k]).all():
                x, y = q[i, k]
                if 0 <= x < out_size and 0 <= y < out_size:
                    gx = np.exp(-((g - x) ** 2) / (2 * sigma**2))
                    gy = np.exp(-((g - y) ** 2) / (2 * sigma**2))
                    t = np.outer(gy, gx)
                    targets[i, k] = t / t.sum()
                    weights[i, k] = 1.0
                else:
                    weights[i, k] = ABSENT_WEIGHT
            elif absent[i, k]:
                weights[i, k] = ABSENT_WEIGHT
    return torch.from_numpy(targets), torch.from_numpy(weights)


#: Weight of a channel whose landmark is known to be absent (its target is uniform).
ABSENT_WEIGHT = 0.2


def heatmap_loss(logits, targets, weights):
    """Cross-entropy between each channel's spatial softmax and its target distribution,
    weighted per channel (MSE on Gaussians learns far more slowly from a few hundred films)."""
    import torch

    logp = torch.log_softmax(logits.flatten(2), dim=-1)
    ce = -(targets.flatten(2) * logp).sum(-1)
    return (ce * weights).sum() / weights.sum().clamp(min=1.0)


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` made: the model's files and the loss curve."""

    onnx: Path
    meta: Path
    weights: Path
    losses: tuple[float, ...]
    seconds: float
    meta_data: dict = field(default_factory=dict)


def train(films: Sequence[TrainingFilm], out: str | os.PathLike, *, channels: Sequence[str] = AP_PELVIS_CHANNELS,
          view: str = "ap-pelvis", input_size: int = 384, epochs: int = 60, batch_size: int = 8, lr: float = 2e-3,
          sigma: float = 1.5, seed: int = 0, init: str | os.PathLike | None = None, max_steps: int | None = None,
          threads: int | None = None, command: str = "", attribution: str = "", confidence: dict | None = None,
          extra_meta: dict | None = None, site_processing: float = 0.0) -> TrainResult:
    """Train (or fine-tune from ``init``, a ``.npz`` of weights) and write the model.

    Parameters
    ----------
    films
        :class:`TrainingFilm` values (see the ``films_from_*`` functions).
    out
        Path without suffix: ``out.onnx``, ``out.json`` and ``out.npz`` are written.
    epochs, batch_size, lr, sigma, seed
        The schedule (AdamW, one-cycle), the Gaussian's sigma in heatmap pixels, the seed of
        every random choice (weights, order, augmentation).
    max_steps
        Stop after this many optimiser steps (a quick test of the training path).
    site_processing
        The share of training images shown as another site's image processing would show them
        (:func:`site_processing`: edge enhancement or local contrast equalisation); 0 draws no
        random number for it, so a recipe without it trains as before.
    """
    import torch

    if not films:
        raise LandmarkError("no training film (no usable landmarks in the training data)")
    if not 0.0 <= site_processing <= 1.0:
        raise LandmarkError(f"site_processing is a share of the training images, 0 to 1 (not {site_processing})")
    if input_size < 64 or input_size % 32:
        raise LandmarkError(f"input_size must be a multiple of 32, at least 64 (not {input_size})")
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    torch.set_num_threads(threads or max(1, os.cpu_count() or 1))
    net = make_network(len(channels))
    if init is not None:
        state = dict(np.load(init))
        net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
        log.info("training: fine-tuning from %s", Path(init).name)
    stride = 2
    out_size = input_size // stride
    flip_perm = channel_pairs(channels)
    steps_per_epoch = max(1, math.ceil(len(films) / batch_size))
    total = steps_per_epoch * epochs if max_steps is None else min(max_steps, steps_per_epoch * epochs)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(total, 1), pct_start=0.15)
    weights_film = np.array([f.weight for f in films])
    losses: list[float] = []
    step = 0
    net.train()
    for epoch in range(epochs):
        order = rng.permutation(len(films))
        ep_loss = []
        for b in range(steps_per_epoch):
            if step >= total:
                break
            idx = order[b * batch_size:(b + 1) * batch_size]
            batch = [films[i] for i in idx]
            imgs, pts, absent = _affine_batch(batch, input_size, rng, True, flip_perm)
            imgs = _intensity(imgs, rng)
            imgs = _site_processed(imgs, rng, site_processing)
            target, w = heatmap_targets(pts, absent, out_size, stride, sigma)
            w = w * torch.from_numpy(weights_film[idx].astype(np.float32))[:, None]
            loss = heatmap_loss(net(imgs), target, w)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            ep_loss.append(float(loss))
        if ep_loss:
            losses.append(float(np.mean(ep_loss)))
            log.info("training: epoch %d/%d loss %.5f (%.0f s)", epoch + 1, epochs, losses[-1], time.perf_counter() - t0)
        if step >= total:
            break
    net.eval()
    meta = {
        "format": MODEL_FORMAT, "view": view, "channels": list(channels), "input_size": input_size, "stride": stride,
        "sigma": sigma, "architecture": "stride-2 stem + monai.networks.nets.BasicUNet",
        "output": "logits of a spatial softmax per channel",
        # read as the mean of the film's and its mirror image's heatmaps (the flips of training)
        "test_time_flip": True,
        "trained": {"command": command, "seed": seed, "epochs": epochs, "steps": step, "batch_size": batch_size,
                    "lr": lr, "films": len(films), "site_processing": site_processing,
                    "groups": sorted({f.group for f in films})[:20],
                    "finetuned_from": Path(init).name if init else None,
                    "date": dt.date.today().isoformat(), "seconds": round(time.perf_counter() - t0, 1)},
        "attribution": attribution, "confidence": confidence or {},
    }
    meta.update(extra_meta or {})
    res = export(net, out, meta, input_size)
    return TrainResult(res[0], res[1], res[2], tuple(losses), time.perf_counter() - t0, meta)


def export(net, out: str | os.PathLike, meta: dict, input_size: int) -> tuple[Path, Path, Path]:
    """Write ``out.onnx`` (opset 17), ``out.json`` and ``out.npz``; the ONNX file is checked by
    onnxruntime against PyTorch on a random input before anything is kept."""
    import torch

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.onnx")
    x = torch.randn(1, 1, input_size, input_size)
    with torch.no_grad():
        ref = net(x).numpy()
    torch.onnx.export(net, (x,), str(tmp), input_names=["image"], output_names=["heatmaps"], opset_version=17,
                      dynamic_axes={"image": {0: "n"}, "heatmaps": {0: "n"}}, dynamo=False)
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"image": x.numpy()})[0]
    if not np.allclose(got, ref, atol=1e-3):
        tmp.unlink(missing_ok=True)
        raise LandmarkError("the exported ONNX model does not reproduce the PyTorch network")
    onnx_path, meta_path, npz_path = out.with_suffix(".onnx"), out.with_suffix(".json"), out.with_suffix(".npz")
    os.replace(tmp, onnx_path)
    meta_path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    np.savez_compressed(npz_path, **{k: v.detach().numpy() for k, v in net.state_dict().items()})
    return onnx_path, meta_path, npz_path


# --------------------------------------------------------------------------- hardware classifier

#: The hardware network's input (pixels, the film's long side) and the cell of its evidence map.
HARDWARE_INPUT = 256
HARDWARE_STRIDE = 32
#: Per batch of :data:`HARDWARE_BATCH`: real films with metal, films given synthetic metal
#: (:func:`draw_metal`; none by default: in cross-validation they lowered the real films' figures)
#: and films without metal, a fifth of those given an edge-to-edge line (:func:`draw_divider`:
#: the dividers and rulers that a small network takes for a nail) and a fifth a calibration ball
#: (:func:`draw_ball`: a templating film's steel ball is metal, not hardware).
HARDWARE_BATCH = 32
HARDWARE_REAL = 8
HARDWARE_SYNTHETIC = 0


def _bar(shape: tuple[int, int], p0, p1, width: float) -> np.ndarray:
    """Mask of a bar of ``width`` pixels from ``p0`` to ``p1`` (``(x, y)``)."""
    from skimage.draw import polygon

    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-6) * width / 2
    corners = np.array([p0 + n, p1 + n, p1 - n, p0 - n])
    mask = np.zeros(shape, bool)
    rr, cc = polygon(corners[:, 1], corners[:, 0], shape)
    mask[rr, cc] = True
    return mask


def metal_mask(shape: tuple[int, int], rng: np.random.Generator, bone: np.ndarray | None = None) -> np.ndarray:
    """A random piece of orthopaedic metal, drawn at the scale of a film reduced to
    :data:`HARDWARE_INPUT` pixels (about 1.5-2 mm per pixel): a plate with screws (and a lag
    screw), a few screws, a nail with its locking screws, cerclage wires, a prosthesis (head and
    stem) or skin staples, centred on a random ``bone`` pixel where given."""
    from skimage.draw import disk, ellipse_perimeter

    h, w = shape
    m = np.zeros(shape, bool)
    kind = rng.choice(["plate", "screws", "nail", "wire", "prosthesis", "staples"], p=[.28, .2, .17, .15, .1, .1])
    c = np.array([rng.uniform(.2, .8) * w, rng.uniform(.15, .85) * h])
    if bone is not None and bone.any():
        yy, xx = np.nonzero(bone)
        k = int(rng.integers(yy.size))
        c = np.array([xx[k], yy[k]], float)
    ang = rng.uniform(0, math.pi) if rng.random() < .4 else math.pi / 2 + rng.normal(0, .25)
    u = np.array([math.cos(ang), math.sin(ang)])
    v = np.array([-u[1], u[0]])
    if kind == "plate":
        length = rng.uniform(35, 130)
        a, b = c - u * length / 2, c + u * length / 2
        m |= _bar(shape, a, b, rng.uniform(4, 9))
        for t in np.linspace(0.1, 0.9, int(rng.integers(2, 8))):
            p = a + (b - a) * t
            m |= _bar(shape, p - v * 2, p + v * rng.uniform(12, 30), rng.uniform(2, 4))
        if rng.random() < .5:  # a lag screw up the neck
            d = (v - 0.3 * u) / np.hypot(*(v - 0.3 * u))
            m |= _bar(shape, a, a + d * rng.uniform(25, 50), rng.uniform(4, 7))
    elif kind == "screws":
        for _ in range(int(rng.integers(1, 4))):
            o, length = c + v * rng.uniform(-10, 10), rng.uniform(15, 55)
            m |= _bar(shape, o - u * length / 2, o + u * length / 2, rng.uniform(2.5, 5))
    elif kind == "nail":
        length = rng.uniform(90, 230)
        a = c - u * length / 2
        m |= _bar(shape, a, c + u * length / 2, rng.uniform(4, 8))
        for t in (rng.uniform(0.02, .15), rng.uniform(.85, .98)):
            p = a + u * length * t
            m |= _bar(shape, p - v * 12, p + v * 12, rng.uniform(2, 4))
    elif kind == "wire":
        for _ in range(int(rng.integers(1, 4))):
            o = c + u * rng.uniform(-20, 20)
            rr, cc = ellipse_perimeter(int(o[1]), int(o[0]), int(rng.uniform(3, 12)), int(rng.uniform(8, 25)),
                                       orientation=float(-ang), shape=shape)
            m[rr, cc] = True
        if rng.random() < .5:
            from scipy import ndimage

            m = ndimage.binary_dilation(m)
    elif kind == "prosthesis":
        rr, cc = disk((c[1], c[0]), rng.uniform(9, 18), shape=shape)
        m[rr, cc] = True
        m |= _bar(shape, c, c + u * rng.uniform(60, 140) + v * rng.uniform(-20, 20), rng.uniform(6, 12))
    else:  # skin staples
        for k in range(int(rng.integers(2, 7))):
            p = c + u * k * rng.uniform(6, 12)
            a, b = p - v * 4, p + v * 4
            m |= _bar(shape, a, b, 1.5) | _bar(shape, a, a + u * 4, 1.5) | _bar(shape, b, b + u * 4, 1.5)
    return m


def draw_metal(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` (a network input, bone bright ~0-1) with synthetic metal (:func:`metal_mask`):
    flat, brighter than bone (1.0-1.5), with a sharp edge."""
    return _blend(image, metal_mask(image.shape, rng, image > 0.55), rng, noise=True)


def _blend(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, noise: bool = False) -> np.ndarray:
    """``image`` with flat metal (1.0-1.5, with a little ``noise`` if asked) where ``mask`` is,
    its edge slightly blurred as a detector's would be."""
    from scipy import ndimage

    alpha = ndimage.gaussian_filter(mask.astype(np.float32), rng.uniform(0.3, 0.9))
    metal = rng.uniform(1.0, 1.5) + (rng.normal(0, 0.02, image.shape) if noise else 0.0)
    return (image * (1 - alpha) + metal * alpha).astype(np.float32)


def draw_divider(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` with a bright straight line from edge to edge (a divider between two views,
    a ruler's edge): not metal in the patient."""
    h, w = image.shape
    if rng.random() < .5:
        c = rng.uniform(.2, .8) * w
        m = _bar(image.shape, (c, 0), (c + rng.normal(0, 3), h), rng.uniform(1.5, 5))
    else:
        c = rng.uniform(.2, .8) * h
        m = _bar(image.shape, (0, c), (w, c + rng.normal(0, 3)), rng.uniform(1.5, 5))
    return np.where(m, rng.uniform(0.9, 1.5), image).astype(np.float32)


def draw_ball(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` with a calibration ball (a steel disc of 25 mm at the reduced film's scale,
    alone on the film): metal, but not hardware in the patient."""
    from skimage.draw import disk

    h, w = image.shape
    m = np.zeros(image.shape, bool)
    rr, cc = disk((rng.uniform(.1, .9) * h, rng.uniform(.1, .9) * w), rng.uniform(5, 14), shape=image.shape)
    m[rr, cc] = True
    return _blend(image, m, rng)


def hardware_input(display: np.ndarray, size: int = HARDWARE_INPUT) -> np.ndarray:
    """A film's input to the hardware network: as stored (the network learns every turn),
    reduced and normalised as :func:`.network.prepare_input` does."""
    return prepare_input(np.asarray(display, np.float32), size)[0]


def make_hardware_network(features: Sequence[int] = (8, 16, 32, 48, 64)):
    """The hardware network: five stride-2 stages of two 3 x 3 convolutions (MONAI's
    ``Convolution``, batch norm, ReLU) and a 1 x 1 convolution to one logit per
    :data:`HARDWARE_STRIDE` cell. Its output is that evidence map; the film's logit is the
    map's log-mean-exp (:func:`.hardware.film_probability`)."""
    import torch
    from monai.networks.blocks import Convolution

    layers, c = [], 1
    for f in features:
        layers += [Convolution(2, c, f, strides=2, kernel_size=3, act="relu", norm="batch"),
                   Convolution(2, f, f, strides=1, kernel_size=3, act="relu", norm="batch")]
        c = f
    layers.append(torch.nn.Conv2d(c, 1, 1))
    return torch.nn.Sequential(*layers)


def film_logit(evidence):
    """The film's logit from evidence maps ``(N, 1, H, W)`` (torch): their log-mean-exp."""
    import torch

    flat = evidence.flatten(1)
    return torch.logsumexp(flat, 1) - math.log(flat.shape[1])


def _hardware_augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random quarter turn, flip, crop-zoom, contrast (gamma), gain, offset and noise of a
    network input (square). No blur: it erases wires and thin screws (with the heatmap
    networks' MONAI intensity augmentation, blur included, the same recipe found 1 of 33 films
    with metal at 0.9 in cross-validation instead of about 20)."""
    from skimage.transform import resize

    x = np.rot90(image, int(rng.integers(4)))
    if rng.random() < .5:
        x = x[:, ::-1]
    size = x.shape[0]
    c = int(size * rng.uniform(.75, 1.0))
    oy, ox = rng.integers(0, size - c + 1, 2)
    x = resize(np.ascontiguousarray(x[oy:oy + c, ox:ox + c]), (size, size), order=1, preserve_range=True,
               anti_aliasing=False)
    x = np.clip(x, 0, None) ** np.exp(rng.normal(0, .25))
    x = x * rng.uniform(.8, 1.2) + rng.normal(0, .05) + rng.normal(0, .02, x.shape)
    return x.astype(np.float32)


#: The seeds of a hardware ensemble's members lie this far apart (member ``m``: ``seed + m *
#: MEMBER_SEED_STEP``), so that the cross-validation's per-fold seeds (``seed + fold``) never meet.
MEMBER_SEED_STEP = 1000


def mean_of_networks(nets):
    """One module whose output is the mean of the networks' outputs (an ensemble, exported to
    ONNX as one graph)."""
    import torch

    class MeanOfNetworks(torch.nn.Module):
        def __init__(self, members):
            super().__init__()
            self.members = torch.nn.ModuleList(members)

        def forward(self, image):
            return torch.stack([m(image) for m in self.members]).mean(0)

    return MeanOfNetworks(nets).eval()


def _train_hardware_member(x, y, pos, neg, steps, lr, seed, synthetic, t0):
    """One hardware network trained from ``seed`` (see :func:`train_hardware`)."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = make_hardware_network()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1))
    losses: list[float] = []
    net.train()
    for step in range(steps):
        idx = np.concatenate([rng.choice(pos, HARDWARE_REAL), rng.choice(neg, HARDWARE_BATCH - HARDWARE_REAL)])
        batch, target = [], []
        for j, i in enumerate(idx):
            img, t = x[i], y[i]
            if HARDWARE_REAL <= j < HARDWARE_REAL + synthetic:
                img, t = draw_metal(img, rng), 1
            elif j >= HARDWARE_REAL + synthetic:
                u = rng.random()
                img = draw_divider(img, rng) if u < 0.2 else draw_ball(img, rng) if u < 0.4 else img
            batch.append(_hardware_augment(img, rng))
            target.append(t)
        imgs = torch.from_numpy(np.stack(batch))[:, None]
        loss = F.binary_cross_entropy_with_logits(film_logit(net(imgs)), torch.tensor(target, dtype=torch.float32))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if (step + 1) % 100 == 0:
            log.info("hardware training (seed %d): step %d/%d loss %.4f (%.0f s)", seed, step + 1, steps,
                     float(np.mean(losses[-100:])), time.perf_counter() - t0)
    net.eval()
    return net, losses


def train_hardware(images: np.ndarray, labels: Sequence[int], out: str | os.PathLike | None, *, steps: int = 600,
                   lr: float = 2e-3, seed: int = 0, threads: int | None = None, command: str = "",
                   attribution: str = "", threshold: float | None = None, synthetic: int = HARDWARE_SYNTHETIC,
                   members: int = 1, extra_meta: dict | None = None):
    """Train the hardware classifier (:func:`make_hardware_network`) and write it (``out``:
    path without suffix; ``None``: return the network unexported, for cross-validation).

    Parameters
    ----------
    images
        ``(N, S, S)`` network inputs (:func:`hardware_input`).
    labels
        1 where the film carries metal, else 0; at least one of each.
    steps, lr, seed
        AdamW with a one-cycle schedule, batches of :data:`HARDWARE_BATCH` (:data:`HARDWARE_REAL`
        real films with metal, ``synthetic`` films given synthetic metal, the rest without);
        every random choice from ``seed``.
    threshold
        The film probability from which hardware is said (recorded in the description; default
        :data:`.hardware.HARDWARE_MIN_PROBABILITY`).
    members
        Networks trained alike from the seeds ``seed + MEMBER_SEED_STEP * m``; their evidence
        maps are averaged (:func:`mean_of_networks`, exported as one ONNX graph): one network's
        figures vary from seed to seed, their mean less.

    Returns
    -------
    TrainResult or the network
    """
    import torch

    from .hardware import HARDWARE_MIN_PROBABILITY

    x = np.asarray(images, np.float32)
    y = np.asarray(labels, int)
    if x.ndim != 3 or x.shape[0] != y.size or x.shape[1] != x.shape[2] or x.shape[1] % HARDWARE_STRIDE:
        raise LandmarkError("hardware training: square inputs (N, S, S), S a multiple of 32, and one label each")
    pos, neg = np.nonzero(y == 1)[0], np.nonzero(y == 0)[0]
    if pos.size == 0 or neg.size == 0:
        raise LandmarkError("hardware training needs films with metal and films without")
    if members < 1:
        raise LandmarkError("hardware training: at least one member network")
    t0 = time.perf_counter()
    torch.set_num_threads(threads or max(1, os.cpu_count() or 1))
    nets, losses = [], []
    for m in range(members):
        member, member_losses = _train_hardware_member(x, y, pos, neg, steps, lr, seed + MEMBER_SEED_STEP * m,
                                                       synthetic, t0)
        nets.append(member)
        losses += member_losses
    net = nets[0] if members == 1 else mean_of_networks(nets)
    net.eval()
    if out is None:
        return net
    meta = {
        "format": MODEL_FORMAT, "view": "hardware", "channels": ["metal_hardware"], "input_size": x.shape[1],
        "stride": HARDWARE_STRIDE, "threshold": HARDWARE_MIN_PROBABILITY if threshold is None else threshold,
        "architecture": "five stride-2 stages of monai Convolution blocks and a 1x1 convolution"
                        + ("" if members == 1 else f"; the mean of {members} such networks' evidence maps"),
        "output": "logits of local evidence per cell; the film's logit is their log-mean-exp",
        "trained": {"command": command, "seed": seed, "steps": steps, "batch_size": HARDWARE_BATCH, "lr": lr,
                    "synthetic_per_batch": synthetic, "members": members,
                    "member_seeds": [seed + MEMBER_SEED_STEP * m for m in range(members)],
                    "films": int(y.size), "with_metal": int(pos.size), "date": dt.date.today().isoformat(),
                    "seconds": round(time.perf_counter() - t0, 1)},
        "attribution": attribution,
    }
    meta.update(extra_meta or {})
    res = export(net, out, meta, x.shape[1])
    return TrainResult(res[0], res[1], res[2], tuple(losses), time.perf_counter() - t0, meta)
