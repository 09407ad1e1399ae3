"""Phantoms: synthetic radiographs whose truth is known by construction.

For tests, the demo, the docs and the phantom accuracy tables — not the measure of a
detector (real films are; see ``datasets/`` and ``docs/accuracy.md``).

* :mod:`.pelvis` – AP pelvis DX (and a cross-table lateral hip) with a calibration ball;
* :mod:`.limb` – standing AP long-leg DX with every lower-limb landmark;
* :mod:`.knee` – AP and lateral knee DX.
"""
