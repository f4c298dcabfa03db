"""``python -m tests.engines``: what is installed; ``--missing NAMES``: the packages NAMES lack."""

import sys

from . import main

sys.exit(main())
