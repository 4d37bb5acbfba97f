"""Short progress lines ("[ 12.3 s] saving ...") for the command line and the demo."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Print one line per step, prefixed with the seconds since the start.

    Parameters
    ----------
    stream
        Where lines go; ``None`` means ``sys.stderr`` looked up at each call,
        so a redirected or captured stderr (pytest's ``capsys``) is honoured.
    clock
        Monotonic clock in seconds; injectable for tests.

    Examples
    --------
    >>> say = Progress()                 # doctest: +SKIP
    >>> say("loading study ...")         # doctest: +SKIP
    [  0.0 s] loading study ...
    """

    def __init__(
        self,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._stream = stream
        self._clock = clock
        self._start = clock()

    @property
    def elapsed(self) -> float:
        """Seconds since this object was made."""
        return self._clock() - self._start

    def __call__(self, message: str) -> None:
        """Print ``message`` with the elapsed time; flushed at once because steps are slow."""
        stream = self._stream if self._stream is not None else sys.stderr
        print(f"[{self.elapsed:5.1f} s] {message}", file=stream, flush=True)
