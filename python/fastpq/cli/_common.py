"""What the commands share: the progress bar, option types and the reading, limit and bootstrap options."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..io.limits import DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_PIXELS


class ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, label: str, stream: Any = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.start = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = width * done // total if total else width
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                          f"({rate:.0f} images/s)")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()



def _add_bootstrap_arguments(parser: argparse.ArgumentParser, default_resamples: int) -> None:
    parser.add_argument("--bootstrap", type=int, default=default_resamples, metavar="N",
                        help="bootstrap confidence intervals from N resamples of the images, drawn with replacement "
                             + ("(default: 0, no intervals)" if not default_resamples else "(default: %(default)s)"))
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the resampling (numpy PCG64); the same seed gives the same intervals "
                             "(default: %(default)s)")
    parser.add_argument("--ci", type=float, default=0.95,
                        help="confidence level of the percentile intervals (default: %(default)s)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _add_png_reading_arguments(parser: argparse.ArgumentParser) -> None:
    """--workers and --max-pixels, for every command that scores PNG pairs."""
    parser.add_argument("--workers", type=int, default=0, help="threads decoding images (default: all cores)")
    parser.add_argument("--max-pixels", type=_positive_int, default=DEFAULT_MAX_PIXELS,
                        help="refuse PNGs with more pixels than this (default: %(default)s)")


def _add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    """The options an evaluation server sets for untrusted submissions, common to pq and amodal."""
    parser.add_argument("--strict", action="store_true",
                        help="refuse what the reference tools silently accept (duplicate image or segment ids, "
                             "entries for unknown images, file names leaving their folder, ...)")
    parser.add_argument("--max-json-bytes", type=_positive_int, default=DEFAULT_MAX_JSON_BYTES,
                        help="refuse larger JSON files (default: %(default)s)")




def _one_line(e: BaseException) -> str:
    text = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
    return " ".join(str(text).split())

