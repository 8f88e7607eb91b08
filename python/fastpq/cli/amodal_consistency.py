"""``fastpq amodal-consistency``: how consistently the annotators of a multi-annotator COCOA file
(BSDS amodal) segment each image, as the semantic amodal segmentation paper measures it."""

from __future__ import annotations

import argparse
import json
from typing import Any


def _threshold(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"the IoU threshold must be in (0, 1], not {text}")
    return value


def _max_dist(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 0.1:
        raise argparse.ArgumentTypeError(f"the edge tolerance must be in [0, 0.1] of the image diagonal, not {text}")
    return value


def register(commands: "argparse._SubParsersAction") -> None:
    """Adds the command to the CLI's subparsers."""
    parser = commands.add_parser(
        "amodal-consistency", help="region consistency of the annotators of a multi-annotator COCOA file",
        description="Region consistency (Zhu et al., Semantic Amodal Segmentation): for every ordered pair of "
                    "annotations of an image, regions matched one to one at IoU >= 0.5, F = 2PR/(P+R); the "
                    "median over all pairs of all images, with a bootstrap interval over images. --edges adds edge "
                    "consistency: boundary pixels matched one to one within a tolerance (BSDS boundary benchmark).")
    parser.add_argument("annotations", help="COCOA JSON with several annotations (annotators) per image")
    parser.add_argument("--visible", action="store_true", help="compare visible masks instead of amodal ones")
    parser.add_argument("--threshold", type=_threshold, default=0.5,
                        help="IoU a region pair needs to match (>=; default: %(default)s)")
    parser.add_argument("--matching", choices=("bipartite", "greedy", "any"), default="bipartite",
                        help="one to one with most pairs (default), one to one by descending IoU, or not one to one")
    parser.add_argument("--edges", action="store_true",
                        help="also score edge consistency (region boundaries, BSDS boundary F-measure)")
    parser.add_argument("--max-dist", type=_max_dist, default=0.0075,
                        help="edge tolerance as a fraction of the image diagonal (BSDS500: %(default)s)")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="bootstrap resamples of the images for the median's interval (0: none; default: "
                             "%(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")
    parser.add_argument("--ci", type=float, default=0.95, help="interval level (default: %(default)s)")
    parser.add_argument("--pairs", action="store_true", help="also write every pair's scores to the JSON")
    parser.add_argument("--workers", type=int, default=0, help="threads (default: all cores)")
    parser.add_argument("--strict", action="store_true",
                        help="refuse repeated authors of an image and occlusion rates outside [0, 1]")
    parser.add_argument("--json", dest="json_out", default=None, help="also write the results to this file")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Scores the file, prints the summary and writes the JSON."""
    from ..amodal.consistency import region_consistency_of_images
    from ..amodal.multi import load_multi_annotator
    from ..io.limits import DEFAULT_MAX_PIXELS, check_engine_options

    check_engine_options(args.workers, DEFAULT_MAX_PIXELS)
    images = load_multi_annotator(args.annotations, args.visible, strict=args.strict)  # read once for both
    result = region_consistency_of_images(images, threshold=args.threshold, matching=args.matching,
                                          workers=args.workers, use_visible=args.visible)
    out: Any = _report(result, args)
    lines = [out.pop("_lines")]
    if args.edges:
        from ..amodal.edge_consistency import edge_consistency_of_images

        edges = edge_consistency_of_images(images, max_dist=args.max_dist, workers=args.workers,
                                           use_visible=args.visible)
        out["edges"] = _report(edges, args)
        lines.append(out["edges"].pop("_lines"))
    if not args.quiet:
        print("\n\n".join(lines))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
    return 0


def _report(result: Any, args: argparse.Namespace) -> Any:
    """One consistency result as the JSON holds it (with its per-image rows and bootstrap), and its
    printed lines under '_lines'."""
    out: Any = result.to_dict(pairs=args.pairs)
    out["per_image"] = [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
                        for row in result.per_image()]
    lines = [result.table()]
    if args.bootstrap:
        from ..analysis.amodal_consistency import bootstrap_summary

        summary = bootstrap_summary(result, args.bootstrap, args.seed, args.ci)
        out["bootstrap"] = summary
        bounds = ", ".join("n/a" if summary[k] is None else f"{summary[k]:.4f}" for k in ("lower", "upper"))
        lines.append(f"median F {100 * args.ci:g}% interval [{bounds}] "
                     f"({args.bootstrap} resamples of the images, seed {args.seed})")
    out["_lines"] = "\n".join(lines)
    return out
