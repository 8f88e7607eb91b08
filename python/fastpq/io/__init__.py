"""Reading what every metric family reads: JSON files and their tables, limits, PNG helpers, zip archives.

The bottom layer: it imports only ``fastpq.errors`` and ``fastpq._core``.
"""
