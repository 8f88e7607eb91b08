"""``fastpq.server``: the public name of :mod:`fastpq.integrations.server`, where the code lives (the same module object)."""

import sys

from .integrations import server as _home

sys.modules[__name__] = _home
