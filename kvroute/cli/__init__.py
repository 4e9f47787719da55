"""``python -m kvroute <stage>``: the entry point every Snakemake rule calls.

One module per stage group registers its subcommands:

    data       generate, dataset-stats, validate-config
    inference  prepare-model, infer, merge
    analysis   score, metrics, probe, stats, leaderboard, claims
    figures    figure FAMILY (one per entry of kvroute/figures/registry.py), tables

Each subcommand reads files, calls package functions and writes its outputs
through kvroute.io (atomically). Defaults come from the config schema.
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys

from kvroute.cli import analysis, data, figures, inference

GROUPS = (data, inference, analysis, figures)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kvroute", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging; tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_parsers(sub)
    return p


def main(argv=None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        args.func(args)
    except (ValueError, OSError, RuntimeError) as err:
        # Bad input, a missing or unwritable path, a full disk: say what and where,
        # without a traceback unless asked for (-v).
        if args.verbose or not _expected(err):
            raise
        sys.exit(f"kvroute {args.command}: error: {err}")


def _expected(err: BaseException) -> bool:
    from kvroute.models import ChecksumError

    if isinstance(err, (ValueError, ChecksumError, FileNotFoundError, PermissionError, NotADirectoryError,
                        IsADirectoryError)):
        return True
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT)
