"""``fastpq.inmemory``: the public name of :mod:`fastpq.panoptic.inmemory`, where the code lives (the same module object)."""

import sys

from .panoptic import inmemory as _home

sys.modules[__name__] = _home
