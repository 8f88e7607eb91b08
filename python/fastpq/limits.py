"""``fastpq.limits``: the public name of :mod:`fastpq.io.limits`, where the code lives (the same module object)."""

import sys

from .io import limits as _home

sys.modules[__name__] = _home
