"""``fastpq.server``: the public name of :mod:`fastpq.integrations.server`, where the code lives (the same
module object); ``python -m fastpq.server`` runs its command line."""

import sys

from .integrations import server as _home

if __name__ == "__main__":
    sys.exit(_home.main())
sys.modules[__name__] = _home
