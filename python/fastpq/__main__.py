"""``python -m fastpq``: the same as the ``fastpq`` command."""

import sys

from .cli import main

sys.exit(main())
