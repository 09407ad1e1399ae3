#!/usr/bin/env python3
"""Print the landmark detector's accuracy table (see orthoplan/landmarks/accuracy.py).

Usage: ``python scripts/landmark_accuracy.py -n 40 --real ../shared/data/real``
(same as ``python -m orthoplan.landmarks.accuracy``).
"""

import sys

from orthoplan.landmarks.accuracy import main

if __name__ == "__main__":
    sys.exit(main())
