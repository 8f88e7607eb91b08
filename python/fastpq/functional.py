"""``fastpq.functional``: the public name of :mod:`fastpq.integrations.torchmetrics`, where the code lives (the same module object)."""

import sys

from .integrations import torchmetrics as _home

sys.modules[__name__] = _home
