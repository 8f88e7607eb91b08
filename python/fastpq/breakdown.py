"""``fastpq.breakdown``: the public name of :mod:`fastpq.panoptic.breakdown`, where the code lives (the same module object)."""

import sys

from .panoptic import breakdown as _home

sys.modules[__name__] = _home
