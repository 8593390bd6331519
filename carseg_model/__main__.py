"""``python -m carseg_model``: the ``carseg`` command line (see `carseg_model.cli`)."""

import sys

from carseg_model.cli import main

sys.exit(main())
