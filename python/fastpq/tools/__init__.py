"""Tools around the metrics: the combination heuristic, format converters, the HTML report."""
