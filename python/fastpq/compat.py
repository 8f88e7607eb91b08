"""``fastpq.compat``: the public name of :mod:`fastpq.integrations.panopticapi`, where the code lives (the same module object)."""

import sys

from .integrations import panopticapi as _home

sys.modules[__name__] = _home
