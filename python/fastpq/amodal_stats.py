"""``fastpq.amodal_stats``: the public name of :mod:`fastpq.amodal.stats`, where the code lives (the same module object)."""

import sys

from .amodal import stats as _home

sys.modules[__name__] = _home
