"""One atomic writer: a temp file (or folder) beside the target, renamed over it only when complete.

Every file the package writes goes through :func:`atomic_path` (or :func:`write_text`,
its shorthand for text), every output folder through :func:`atomic_dir`: on any failure
the temp is removed and the target is untouched, so a reader never sees half an output.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from populace.errors import FitError

__all__ = ["atomic_path", "atomic_dir", "require_empty_dir", "write_text"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path in ``path``'s directory; on success ``os.replace`` it onto ``path``.

    ``suffix`` keeps the extension for writers that infer the format from it (``.png``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; outputs are for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp folder beside ``path``; on success it replaces ``path`` (which, if it
    exists, must be an empty folder: a folder of results is never merged into)."""
    path = require_empty_dir(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.exists():
            path.rmdir()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def require_empty_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, if it is absent or an empty folder; else a clear error.

    Callers run it before any long work too, so that a wrong ``--out`` fails at once.
    """
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FitError(f"{path} exists and is not an empty folder. Fix: remove it or choose another --out.")
    return path


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
    return Path(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
