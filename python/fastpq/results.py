"""``fastpq.results``: the public name of :mod:`fastpq.panoptic.results`, where the code lives (the same module object)."""

import sys

from .panoptic import results as _home

sys.modules[__name__] = _home
