#!/usr/bin/env python3
"""Make the shipped AP pelvis landmark model: cross-validate the recipe, then train on everything.

    python scripts/train_ap_pelvis.py                 # about 1 hour on 2 CPU cores (3 folds, then the model)

1. k-fold cross-validation of the recipe on the real references (no film in both training and
   test; :func:`orthoplan.landmarks.crossval.cross_validate`), rows written to ``--rows``;
2. the model trained by the same recipe on every usable reference plus the phantoms, seed 0,
   written to ``orthoplan/landmarks/models/ap-pelvis.{onnx,json,npz}``;
3. its confidence table (per anatomy: peak score -> the held-out rate within 10 % of the head
   diameter *of the true point*, the readers' own error removed with the films read twice:
   :func:`orthoplan.landmarks.crossval.confidence_table`) from the cross-validation rows,
   written into ``ap-pelvis.json``.

Needs the ``[train]`` extra and the FracAtlas films in ``../shared/data/real/fracatlas-hip``
(or ``$ORTHOPLAN_SHARED_DATA/real/fracatlas-hip``).
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

#: The recipe (the cross-validation and the shipped model use the same).
RECIPE = {"epochs": 30, "input_size": 384, "batch_size": 8, "lr": 2e-3, "sigma": 1.5}
PHANTOMS = 60


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = Path(os.environ.get("ORTHOPLAN_SHARED_DATA", REPO.parent / "shared" / "data"))
    ap.add_argument("--root", default=str(shared / "real" / "fracatlas-hip"))
    ap.add_argument("--refs", default=str(REPO / "datasets" / "fracatlas-hip" / "references"))
    ap.add_argument("--second", default=str(REPO / "datasets" / "fracatlas-hip" / "second-reading"),
                    help="second, independent readings: confidence against the truth (deconvolved)")
    ap.add_argument("--out", default=str(REPO / "orthoplan" / "landmarks" / "models" / "ap-pelvis"))
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", default="/tmp/orthoplan-cv/rows.json", help="cross-validation rows (JSON)")
    ap.add_argument("--workdir", default="/tmp/orthoplan-cv")
    ap.add_argument("--skip-cv", action="store_true", help="reuse the rows of an earlier cross-validation")
    ap.add_argument("--skip-train", action="store_true", help="only (re)write the confidence table")
    ap.add_argument("--train-only", action="store_true", help="train the fold models and the model; no evaluation")
    ap.add_argument("--fold", type=int, action="append", help="cross-validate only these folds (repeatable; run "
                    "several commands side by side, one CPU thread each, then once more without --fold)")
    ap.add_argument("--threads", type=int, help="CPU threads for training (default: all)")
    ap.add_argument("--site-processing", type=float, default=RECIPE.get("site_processing", 0.0),
                    help="share of training images shown as another site's processing would show them "
                    "(training.site_processing; default: the recipe's)")
    ap.add_argument("--table", action="append", metavar="ANATOMY",
                    help="(re)write only this landmark's confidence table, keeping the others as they are "
                    "(repeatable; e.g. after its scoring changed, from rows whose other tables were not kept)")
    a = ap.parse_args(argv)
    recipe = {**RECIPE, "site_processing": a.site_processing}
    if any(not 0 <= f < a.folds for f in a.fold or ()):
        ap.error(f"--fold must be 0 to {a.folds - 1} (a {a.folds}-fold cross-validation)")
    if any(t not in crossval.ANATOMIES for t in a.table or ()):
        ap.error(f"--table takes an AP pelvis landmark: {', '.join(crossval.ANATOMIES)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    refs = load_references(a.refs)
    phantoms = training.films_from_phantoms(PHANTOMS, seed=a.seed) if not (a.skip_cv and a.skip_train) else []
    rows_path = Path(a.rows)
    if not a.skip_cv:
        rows = crossval.cross_validate(refs, a.root, a.folds, phantoms=phantoms, seed=a.seed, workdir=a.workdir,
                                       train_kwargs={**recipe, "threads": a.threads}, train_only=a.train_only,
                                       folds=a.fold)
        if not a.train_only:
            rows_path.parent.mkdir(parents=True, exist_ok=True)
            rows_path.write_text(json.dumps(crossval.rows_to_json(rows)))
    command = "python scripts/train_ap_pelvis.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if not a.skip_train:
        refs = load_references(a.refs)  # every reference there is now (reading may have gone on)
        films = training.films_from_references(refs, a.root) + phantoms
        training.train(films, a.out, seed=a.seed, threads=a.threads, command=command.strip(),
                       attribution=training.FRACATLAS_ATTRIBUTION, **recipe)
    if a.train_only:
        return 0
    if not rows_path.exists():
        print(f"no cross-validation rows at {rows_path}: the confidence table is not written yet "
              "(run again with --skip-cv --skip-train once they exist)")
        return 0
    rows = crossval.with_axis_directions(crossval.rows_from_json(json.loads(rows_path.read_text())), refs)
    second = load_references(a.second) if Path(a.second).is_dir() else []
    tables = crossval.confidence_tables(rows, crossval.truth_differences(rows, refs, second) if second else None)
    meta_path = Path(a.out).with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    if a.table:
        meta["confidence"] = {**meta["confidence"], **{t: tables[t] for t in a.table}}
        meta.setdefault("cross_validation", {})["tables_refitted"] = {
            "anatomies": sorted(a.table), "command": command.strip(),
            "films": len({r.film for r in rows})}
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")
        print(f"rewrote the confidence tables of {', '.join(a.table)} in {meta_path} from {len(rows)} held-out rows")
        return 0
    meta["confidence"] = tables
    meta["cross_validation"] = {"folds": a.folds, "films": len({r.film for r in rows}), "seed": a.seed,
                                "recipe": recipe, "phantoms": PHANTOMS}
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {a.out}.onnx/.json/.npz; confidence tables from {len(rows)} held-out rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
