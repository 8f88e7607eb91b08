"""``fastpq.synthetic_amodal``: the public name of :mod:`fastpq.synthetic.amodal`, where the code lives (the same module object)."""

import sys

from .synthetic import amodal as _home

sys.modules[__name__] = _home
