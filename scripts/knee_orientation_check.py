#!/usr/bin/env python3
"""The evidence for the learned knee detector's orientation rules, on the readers' usable films.

    python scripts/knee_orientation_check.py            # about 15 minutes on 2 CPU cores

For every usable knee film the readers read head up (``datasets/fracatlas-knee/references``),
with the shipped models (which saw these films: in-sample figures), it reads the film as stored,
turned a quarter turn either way, and turned by half a turn (:func:`knee_strength` of each), and
the share of the AP network's peaks read upside down against as stored. It prints what
:data:`~orthoplan.landmarks.knee_learned.TURN_TRY_BELOW`, ``ROTATION_MARGIN``,
``TURN_MIN_STRENGTH`` and ``UPSIDE_DOWN_SHARE`` do on them:

* head-up films that are tried turned, and any that a turn would win;
* the same films stored turned either way (reading them as stored is reading the head-up film
  turned the other way): how many the trial turns back, and how many it would turn upside down;
  on lateral films with the lateral turn model first (:func:`~orthoplan.landmarks.views.lateral_knee_head`,
  its held-out probabilities from ``scripts/train_views.py --models lateral-turn`` where given,
  else the shipped model's, which saw these films), and by the network's trial alone;
* the upside-down share on head-up films (none may reach the threshold) and on the same films
  upside down (1 / that share);
* the upright model (:func:`~orthoplan.landmarks.views.knee_head_down`) on the AP films and on
  the same films turned by half a turn, and what the whole detector
  (:func:`~orthoplan.landmarks.knee_learned.detect_knee_learned`) does with the films turned by
  half a turn: read head down (the rule needs both the share and the upright model), and how far
  its points and angles are from those it gives on the film head up.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orthoplan.image import load  # noqa: E402
from orthoplan.landmarks import knee_learned as kl  # noqa: E402
from orthoplan.landmarks.common import head_up  # noqa: E402
from orthoplan.landmarks.network import load_model, predict  # noqa: E402
from orthoplan.landmarks.references import load_references  # noqa: E402
from orthoplan.landmarks.views import (HEAD_DOWN_MIN_PROBABILITY, QUARTER_TURN_MIN_PROBABILITY,  # noqa: E402
                                       knee_head_down, lateral_knee_head)
from orthoplan.model import Calibration, ImageOrientation  # noqa: E402
from orthoplan.pipeline import plan_radiograph  # noqa: E402

KW = dict(model=None, fibula_check=True, minimum=kl.MIN_CONFIDENCE, fibula_model=None, axis_model=None,
          check_hardware=False)


def strengths(rad, view: str, side: str | None) -> dict[str, float]:
    """The knee strength of the film read head up as stored, turned with the head at its left or
    right, and turned by half a turn."""
    out = {}
    for superior in ("up", "left", "right"):
        film = rad if superior == "up" else head_up(dataclasses.replace(
            rad, orientation=ImageOrientation.turned(superior)))[0]
        out[superior] = kl.knee_strength(kl._detect_knee_learned(film, view, side, **KW))
    half = np.ascontiguousarray(np.rot90(np.asarray(rad.display), 2))
    half.flags.writeable = False
    out["half"] = kl.knee_strength(kl._detect_knee_learned(dataclasses.replace(rad, display=half, pixels=half),
                                                           view, side, **KW))
    return out


def kept_turn(stored: float, tries: list[float], view: str, p_turns: list[float] | None = None) -> int | None:
    """Which of ``tries`` the orientation rules keep (index), or None. ``p_turns``: the lateral
    turn model's probability of each try's turn (a lateral film; its rule comes first)."""
    if p_turns is not None:
        b = int(np.argmax(p_turns))
        if p_turns[b] >= QUARTER_TURN_MIN_PROBABILITY and tries[b] > stored and tries[b] >= kl.TURN_MIN_STRENGTH[view]:
            return b
    if stored >= kl.TURN_TRY_BELOW:
        return None
    best = int(np.argmax(tries))
    if tries[best] <= kl.ROTATION_MARGIN * max(stored, 1.0) or tries[best] < kl.TURN_MIN_STRENGTH[view]:
        return None
    return best


def lateral_turns(rad, name: str, held_out: dict | None) -> dict[str, dict[str, float]]:
    """The lateral turn model's probabilities for the head-up film as stored (``"up"``) and for
    it stored turned (``"left"``: the head-up film read as if its head were at the left, i.e. the
    film stored with its head at the right, class ``head-right``; ``"right"`` the other way):
    held out where given, else the shipped model's."""
    stored = {"up": "head-up", "left": "head-right", "right": "head-left"}
    if held_out is not None and name in held_out:
        classes = ("head-up", "head-left", "head-down", "head-right")
        return {k: dict(zip(classes, held_out[name][c])) for k, c in stored.items()}
    d = np.asarray(rad.display, dtype=np.float32)
    turned = {"up": d, "left": np.rot90(d, 3), "right": np.rot90(d, 1)}
    return {k: lateral_knee_head(np.ascontiguousarray(img)) for k, img in turned.items()}


def half_turned(rad):
    """The film turned by half a turn (no orientation tags)."""
    half = np.ascontiguousarray(np.rot90(np.asarray(rad.display), 2))
    half.flags.writeable = False
    return dataclasses.replace(rad, display=half, pixels=half)


def head_down_read(rad) -> dict:
    """The upright model on the AP film and on it turned by half a turn, and the plan of the film
    turned by half a turn against the film's own: whether it was read head down, the largest
    distance between the two plans' points (mapped back by the turn, px, and the film's longer
    side) and the largest difference of their angles (°)."""
    half = half_turned(rad)
    scale = Calibration(1.0, "explicit-spacing", 0.0)  # angles need no scale
    up, down = (plan_radiograph(r, view="knee-ap", calibration=scale) for r in (rad, half))
    rows, cols = np.asarray(rad.display).shape
    d = [np.hypot(cols - q.x - lm.x, rows - q.y - lm.y) for lm in up.landmarks
         if lm.name in down.landmarks and (q := down.landmarks[lm.name]) is not None]
    angles = [abs(m.value - down.measurements[m.name].value) for m in up.measurements
              if m.value is not None and m.name.endswith("_deg") and m.name in down.measurements
              and down.measurements[m.name].value is not None]
    return {"p_up": knee_head_down(np.asarray(rad.display)), "p_half": knee_head_down(np.asarray(half.display)),
            "read_down": down.orientation.superior_name == "down", "up_as": up.orientation.superior_name,
            "refused": not len(down.landmarks) and any("two projections" in n for n in down.notes), "points": len(d),
            "max_px": max(d) if d else float("nan"), "size": max(rows, cols),
            "max_deg": max(angles) if angles else float("nan")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = Path(os.environ.get("ORTHOPLAN_SHARED_DATA", REPO.parent / "shared" / "data"))
    ap.add_argument("--root", default=str(shared / "real" / "fracatlas-knee"))
    ap.add_argument("--lateral-turn-held-out", default="/tmp/orthoplan-lateral-turn-held-out.json",
                    help="the lateral turn model's held-out probabilities (scripts/train_views.py); where missing, "
                         "the shipped model's (in-sample)")
    a = ap.parse_args(argv)
    held = Path(a.lateral_turn_held_out)
    held_out = json.loads(held.read_text())["films"] if held.is_file() else None
    print(f"lateral turn model: {'held-out probabilities from ' + str(held) if held_out else 'the shipped model (in-sample)'}")
    refs = [r for r in load_references(REPO / "datasets" / "fracatlas-knee" / "references")
            if r.usable and r.view in ("knee-ap", "knee-lateral") and r.superior == "up"]
    ap_model = load_model(kl.knee_model_path("knee-ap"), view=kl.KNEE_MODEL)
    for view in ("knee-ap", "knee-lateral"):
        rows, shares, reads, turns = [], [], [], []
        for ref in (r for r in refs if r.view == view):
            rad = load(Path(a.root) / ref.image)
            side = sorted({n.rsplit("_", 1)[1] for n in ref.points})[0] if view == "knee-lateral" else None
            rows.append(strengths(rad, view, side))
            if view == "knee-lateral":
                turns.append(lateral_turns(rad, Path(ref.image).name, held_out))
            if view == "knee-ap":
                up, down = (sum(p.score for p in predict(rad.display, ap_model, s, 1)) for s in ("up", "down"))
                shares.append(down / up)
                reads.append(head_down_read(rad))
        up = np.array([r["up"] for r in rows])
        print(f"{view}: {len(rows)} head-up films; strength as stored median {np.median(up):.1f}, "
              f"1st percentile {np.percentile(up, 1):.1f}")
        tried = sum(r["up"] < kl.TURN_TRY_BELOW for r in rows)
        wrong = sum(kept_turn(r["up"], [r["left"], r["right"]], view) is not None for r in rows)
        print(f"  head-up films tried turned: {tried}; turned (wrongly): {wrong}")
        if turns:
            wrong = sum(kept_turn(r["up"], [r["left"], r["right"]], view, [p["up"]["head-left"], p["up"]["head-right"]])
                        is not None for r, p in zip(rows, turns))
            taken = sum(max(p["up"]["head-left"], p["up"]["head-right"]) >= QUARTER_TURN_MIN_PROBABILITY for p in turns)
            print(f"  with the lateral turn model: head-up films it takes for a quarter turn {taken}; turned (wrongly) {wrong}")
        print(f"  read turned a quarter turn: strength up to {max(max(r['left'], r['right']) for r in rows):.1f}; "
              f"by half a turn: up to {max(r['half'] for r in rows):.1f} ({sum(r['half'] > 0 for r in rows)} > 0)")
        # a film stored turned with its head at the right, read as stored, is the head-up film read
        # as if its head were at the left; its tries are the head-up film and the film upside down
        for stored_as, label in (("left", "head at the image's right"), ("right", "head at the image's left")):
            back = upside = 0
            for r in rows:
                k = kept_turn(r[stored_as], [r["up"], r["half"]], view)
                back += k == 0
                upside += k == 1
            print(f"  the same films stored turned ({label}): turned back {back}, turned upside down {upside}")
            if turns:
                # stored with the head at the image's right: the model's head-right reads it head up
                turn_to = {"left": ("head-right", "head-left"), "right": ("head-left", "head-right")}[stored_as]
                ks = [kept_turn(r[stored_as], [r["up"], r["half"]], view, [p[stored_as][c] for c in turn_to])
                      for r, p in zip(rows, turns)]
                print(f"    with the lateral turn model first: turned back {sum(k == 0 for k in ks)}, "
                      f"turned upside down {sum(k == 1 for k in ks)}")
        if shares:
            s = np.array(shares)
            print(f"  upside-down share: head-up films median {np.median(s):.2f}, max {s.max():.2f} "
                  f"(flagged at {kl.UPSIDE_DOWN_SHARE}: {int((s >= kl.UPSIDE_DOWN_SHARE).sum())}); "
                  f"the same films upside down min {(1 / s).min():.2f}")
            pu, ph = np.array([r["p_up"] for r in reads]), np.array([r["p_half"] for r in reads])
            t = HEAD_DOWN_MIN_PROBABILITY
            print(f"  upright model, head down: head-up films >= {t}: {int((pu >= t).sum())} (with the share too: "
                  f"{int(((pu >= t) & (s >= kl.UPSIDE_DOWN_SHARE)).sum())}); the same films turned by half a turn "
                  f">= {t}: {int((ph >= t).sum())} of {len(ph)}")
            down = [r for r in reads if r["read_down"]]
            print(f"  the films turned by half a turn, planned: read head down {len(down)} of {len(reads)}; of these, "
                  f"the points mapped back within {np.nanmax([r['max_px'] / r['size'] for r in down]) * 100:.2f} % of "
                  f"the film's longer side of the head-up plan's (median of the largest "
                  f"{np.nanmedian([r['max_px'] for r in down]):.1f} px), the angles within "
                  f"{np.nanmax([r['max_deg'] for r in down]):.2f}° (median of the largest "
                  f"{np.nanmedian([r['max_deg'] for r in down]):.2f}°)")
            names = [ref.stem for ref in refs if ref.view == "knee-ap"]
            refused = [n for n, r in zip(names, reads) if r["refused"]]
            missed = [n for n, r in zip(names, reads) if not r["read_down"] and not r["refused"]]
            print(f"  not read head down: refused as two projections side by side {len(refused)} "
                  f"({', '.join(refused) or 'none'}); other {len(missed)} ({', '.join(missed) or 'none'})")
            print(f"  head-up films planned other than head up: "
                  f"{', '.join(n for n, r in zip(names, reads) if r['up_as'] != 'up') or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
