"""``fastpq.combine``: the public name of :mod:`fastpq.tools.combine`, where the code lives (the same module object)."""

import sys

from .tools import combine as _home

sys.modules[__name__] = _home
