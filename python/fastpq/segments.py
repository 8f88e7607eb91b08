"""``fastpq.segments``: the public name of :mod:`fastpq.panoptic.segments`, where the code lives (the same module object)."""

import sys

from .panoptic import segments as _home

sys.modules[__name__] = _home
