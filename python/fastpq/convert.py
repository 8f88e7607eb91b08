"""``fastpq.convert``: the public name of :mod:`fastpq.tools.convert`, where the code lives (the same module object)."""

import sys

from .tools import convert as _home

sys.modules[__name__] = _home
