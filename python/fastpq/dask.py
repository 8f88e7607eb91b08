"""``fastpq.dask``: the public name of :mod:`fastpq.integrations.dask`, where the code lives (the same module object)."""

import sys

from .integrations import dask as _home

sys.modules[__name__] = _home
