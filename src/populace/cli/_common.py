"""What every ``populace`` command shares: the error type, argument types and output helpers."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from populace.errors import PopulaceError

PROG = "populace"
# Loggers whose INFO chatter ("Auto-assigning NUTS sampler...") only --verbose shows.
CHATTY_LOGGERS = ("pymc", "pytensor", "arviz", "populace")


class UsageError(PopulaceError):
    """A command-line value is malformed (reported like any other populace error)."""


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def seed_int(text: str) -> int:
    """A random seed: numpy's SeedSequence takes integers in [0, 2**63) here."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 2**63 - 1, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be from 0 to 2**63 - 1, got {value}")
    return value


def check_writable(path: Path) -> None:
    """Fail before a minute of sampling, not after, when the output cannot be written."""
    if path.is_dir():
        raise UsageError(f"--out {path}: is a folder; give a file name, e.g. {path / 'out'}.")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # the writers create missing folders
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise UsageError(f"--out {path}: cannot write in {parent}.")


def import_inference(*, verbose: bool) -> Any:
    """Import populace.inference (and PyMC), then set how chatty their loggers are.

    PyMC sets its logger to INFO when imported, so levels are set afterwards.
    """
    import populace.inference as inference

    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)
    return inference


def command_line(args: argparse.Namespace, command: str, options: Sequence[tuple[str, str]]) -> str:
    """The command that reproduces this run: every option that was set, defaults included,
    so later changes of a default cannot change what the line means."""
    words = [PROG, command]
    for flag, attr in options:
        value = getattr(args, attr)
        if value is None or value is False:
            continue
        if value is True:
            words.append(flag)
        elif isinstance(value, list):
            words += [flag, *map(str, value)]
        else:
            words += [flag, str(value)]
    env = os.environ.get("OPENBLAS_NUM_THREADS")
    return (f"OPENBLAS_NUM_THREADS={env} " if env else "") + shlex.join(words)


def size(path: Path) -> str:
    """A file's or folder's size in words (``12.3 MB``)."""
    files = path.rglob("*") if path.is_dir() else [path]
    n = float(sum(f.stat().st_size for f in files if f.is_file()))
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
