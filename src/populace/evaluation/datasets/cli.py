"""The command line of ``python -m populace.evaluation.datasets``: ``build`` and
``build-bundled``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from populace.evaluation.datasets.builders import BUILDERS, build
from populace.evaluation.datasets.bundled import build_bundled


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``build NAME DIRECTORY`` or ``build-bundled [--out DIRECTORY]``."""
    from populace.evaluation import datasets  # its docstring's first line describes the command

    parser = argparse.ArgumentParser(prog="python -m populace.evaluation.datasets", description=datasets.__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build a benchmark and write it to a directory")
    p_build.add_argument("name", choices=sorted(BUILDERS))
    p_build.add_argument("directory")
    p_bundled = sub.add_parser("build-bundled", help="regenerate populace/data/gss")
    p_bundled.add_argument("--out", default=None, help="directory (default: the package's data/gss)")
    args = parser.parse_args(argv)
    if args.command == "build":
        out = build(args.name).write(args.directory)
    else:
        out = build_bundled(args.out)
    print(f"wrote {out}")
    return 0
