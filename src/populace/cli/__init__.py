"""The ``populace`` command; one module per subcommand, each with ``register`` and ``run``.

Errors a user can fix (:class:`populace.errors.PopulaceError`) are printed as
``populace: error: <message>`` with exit status 2 and no traceback. Heavy
modules (PyMC, pandas) are imported inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from populace.cli import benchmark, cards, check, demo, fit, generate, library, rectify, report, sbc, summarize
from populace.cli._common import PROG, UsageError
from populace.cli.benchmark import BENCHMARK_DATASETS, BENCHMARK_METHODS
from populace.errors import PopulaceError, PopulaceWarning

__all__ = ["main", "build_parser", "UsageError", "BENCHMARK_DATASETS", "BENCHMARK_METHODS"]

# In the order `populace --help` lists them.
COMMANDS = (check, fit, generate, summarize, report, cards, library, rectify, demo, benchmark, sbc)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``populace`` command (exposed for docs and tests)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", help="show PyMC's log messages")
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Synthetic persona populations from census tables and survey microdata.",
        epilog="Start with `populace demo`; see `populace COMMAND --help` for each command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``populace`` command.

    Parameters
    ----------
    argv
        Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    int
        Exit status: 0 on success, 2 on a usage or populace error, 1 when a
        file cannot be read or written, 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and argparse's own usage errors
        return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 2
    try:
        with _warnings_in_words():
            args.run(args)
    except PopulaceError as exc:
        _error(str(exc))
        return 2
    except OSError as exc:  # disk full, permission denied: the user's to fix, not a bug
        _error(f"{exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}")
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted (no file is left half-written).", file=sys.stderr)
        return 130
    return 0


@contextlib.contextmanager
def _warnings_in_words() -> Iterator[None]:
    """Show each distinct populace warning once as a plain line; other warnings as usual."""
    seen: set[str] = set()
    with warnings.catch_warnings():
        # "always": several warnings from one line (one per group, per table) are all
        # shown; identical texts are shown once below.
        warnings.simplefilter("always", PopulaceWarning)
        show = warnings.showwarning

        def showwarning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if issubclass(category, PopulaceWarning):
                text = str(message)
                if text not in seen:
                    seen.add(text)
                    print(f"{PROG}: warning: {text}", file=sys.stderr)
            else:
                show(message, category, *args, **kwargs)

        warnings.showwarning = showwarning
        yield


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _version() -> str:
    from populace import __version__

    return __version__
