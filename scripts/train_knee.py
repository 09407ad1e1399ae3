#!/usr/bin/env python3
"""Make the shipped knee landmark models (AP and lateral knee films): cross-validate each
network's recipe, then train it on everything.

    python scripts/train_knee.py                 # about 1.5 hours on 2 CPU cores (two networks)

Two networks of the same channels, trained on the same films: ``knee`` (320-px input) reads
lateral films, ``knee-ap`` (448 px: the joint line's finer detail) reads AP films. At 448 px the
network sees too little of a lateral film around each point (it put the anterior cortex on the
posterior cortex on half of them), so each view gets the input size that serves it. For each
network (``--network`` to choose one):

1. k-fold cross-validation of the recipe on the real knee references (no film in both training
   and test; :func:`orthoplan.landmarks.crossval.cross_validate`), rows written beside
   ``--rows`` (``rows-knee.json``, ``rows-knee-ap.json``);
2. the model trained by the same recipe on every usable reference plus knee phantoms, seed 0,
   written to ``orthoplan/landmarks/models/knee.{onnx,json,npz}`` and ``knee-ap.*``;
3. its confidence tables (per view and anatomy: peak score -> the held-out rate within 10 % of
   the view's size, the condylar width or the femoral AP width;
   :func:`orthoplan.landmarks.crossval.confidence_table`) from its own cross-validation rows,
   written into its ``.json``; ``--rows`` itself gets the default detector's rows (AP films
   read by ``knee-ap``, lateral films by ``knee``) for ``scripts/knee_accuracy.py``.

Needs the ``[train]`` extra and the FracAtlas films in ``../shared/data/real/fracatlas-knee``
(or ``$ORTHOPLAN_SHARED_DATA/real/fracatlas-knee``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orthoplan.landmarks import crossval, training  # noqa: E402
from orthoplan.landmarks.references import load_references  # noqa: E402

#: The recipes (the cross-validation and the shipped models use the same), per network:
#: ``knee`` reads lateral films, ``knee-ap`` (the same channels and films at 448 px) AP films.
RECIPE = {"epochs": 30, "input_size": 320, "batch_size": 8, "lr": 2e-3, "sigma": 1.5}
RECIPES = {"knee": RECIPE, "knee-ap": {**RECIPE, "input_size": 448}}
PHANTOMS = 40


def rows_file(rows: Path, network: str) -> Path:
    """Where a network's own held-out rows go (``rows.json`` holds what the detector does by
    default: AP films read by ``knee-ap``, lateral films by ``knee``)."""
    return rows.with_name(f"{rows.stem}-{network}{rows.suffix}")


def default_rows(by_network: dict[str, list], refs) -> list:
    """The rows of the default detector: each film's rows from the network that reads its view."""
    views = crossval.film_views(refs)
    return [r for r in by_network["knee-ap"] if views.get(r.film) == "knee-ap"] + \
           [r for r in by_network["knee"] if views.get(r.film) == "knee-lateral"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = Path(os.environ.get("ORTHOPLAN_SHARED_DATA", REPO.parent / "shared" / "data"))
    ap.add_argument("--root", default=str(shared / "real" / "fracatlas-knee"))
    ap.add_argument("--refs", default=str(REPO / "datasets" / "fracatlas-knee" / "references"))
    ap.add_argument("--out", default=str(REPO / "orthoplan" / "landmarks" / "models" / "knee"),
                    help="the lateral films' model (no suffix); the AP films' model is written beside it as knee-ap")
    ap.add_argument("--network", choices=sorted(RECIPES), action="append",
                    help="work on this network only (repeatable; default both)")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", default="/tmp/orthoplan-knee-cv/rows.json", help="cross-validation rows (JSON)")
    ap.add_argument("--workdir", default="/tmp/orthoplan-knee-cv")
    ap.add_argument("--skip-cv", action="store_true", help="reuse the rows of an earlier cross-validation")
    ap.add_argument("--skip-train", action="store_true", help="only (re)write the confidence tables")
    ap.add_argument("--train-only", action="store_true", help="train the fold models and the model; no evaluation")
    ap.add_argument("--fold", type=int, action="append", help="cross-validate only these folds (repeatable; run "
                    "several commands side by side, one CPU thread each, then once more without --fold)")
    ap.add_argument("--threads", type=int, help="CPU threads for training (default: all)")
    ap.add_argument("--site-processing", type=float, help="share of training images shown as another site's "
                    "processing would show them (training.site_processing; default: each recipe's)")
    a = ap.parse_args(argv)
    recipes = {net: {**r, **({} if a.site_processing is None else {"site_processing": a.site_processing})}
               for net, r in RECIPES.items()}
    if any(not 0 <= f < a.folds for f in a.fold or ()):
        ap.error(f"--fold must be 0 to {a.folds - 1} (a {a.folds}-fold cross-validation)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    refs = load_references(a.refs)
    need_phantoms = not (a.skip_cv and a.skip_train)
    phantoms = training.films_from_knee_phantoms(PHANTOMS, seed=a.seed) if need_phantoms else []
    rows_path = Path(a.rows)
    networks = a.network or sorted(RECIPES)
    outs = {"knee": Path(a.out), "knee-ap": Path(a.out).with_name("knee-ap")}
    command = "python scripts/train_knee.py " + " ".join(argv if argv is not None else sys.argv[1:])
    for net in networks:
        if not a.skip_cv:
            rows = crossval.cross_validate(refs, a.root, a.folds, phantoms=phantoms, seed=a.seed, workdir=a.workdir,
                                           train_kwargs={**recipes[net], "threads": a.threads}, family=net,
                                           train_only=a.train_only, folds=a.fold)
            if not a.train_only:
                rows_file(rows_path, net).parent.mkdir(parents=True, exist_ok=True)
                rows_file(rows_path, net).write_text(json.dumps(crossval.rows_to_json(rows)))
        if not a.skip_train:
            films = training.films_from_references(refs, a.root, training.KNEE_CHANNELS) + phantoms
            training.train(films, outs[net], channels=training.KNEE_CHANNELS, view="knee", seed=a.seed,
                           threads=a.threads, command=command.strip(), attribution=training.FRACATLAS_KNEE_ATTRIBUTION,
                           **recipes[net])
    if a.train_only:
        return 0
    by_network = {}
    for net in sorted(RECIPES):
        path = rows_file(rows_path, net)
        if not path.exists():
            print(f"no cross-validation rows at {path}: the confidence tables are not written yet "
                  "(run again with --skip-cv --skip-train once they exist)")
            return 0
        by_network[net] = crossval.rows_from_json(json.loads(path.read_text()))
    rows_path.write_text(json.dumps(crossval.rows_to_json(default_rows(by_network, refs))))
    for net in networks:
        rows = crossval.with_axis_directions(by_network[net], refs)
        tables = crossval.knee_confidence_tables(rows, refs)
        meta_path = outs[net].with_suffix(".json")
        meta = json.loads(meta_path.read_text())
        meta["confidence"] = tables
        meta["cross_validation"] = {"folds": a.folds, "films": len({r.film for r in rows}), "seed": a.seed,
                                    "recipe": recipes[net], "phantoms": PHANTOMS}
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")
        print(f"wrote {outs[net]}.onnx/.json/.npz; confidence tables from {len(rows)} held-out rows")
    print(f"the default detector's rows (AP films by knee-ap, lateral films by knee): {rows_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
