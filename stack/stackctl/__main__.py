"""``python -m stackctl`` is the ``stackctl`` command."""

import sys

from stackctl.cli import main

sys.exit(main())
