"""``fastpq.report``: the public name of :mod:`fastpq.tools.report`, where the code lives (the same module object)."""

import sys

from .tools import report as _home

sys.modules[__name__] = _home
