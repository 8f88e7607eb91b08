"""``fastpq.detectron2``: the public name of :mod:`fastpq.integrations.detectron2`, where the code lives (the same module object)."""

import sys

from .integrations import detectron2 as _home

sys.modules[__name__] = _home
