"""Progress lines for long loops: percent done, elapsed and time left, from any thread.

A :class:`Progress` logs ``"<what> i/total (p %, elapsed e, t left, x ms each)"`` at most once
every ``every_seconds`` (30 s: every long rule logs at least this often while it steps), and,
where the process's stderr is a terminal, redraws a one-line bar there (at most 5 times a
second). The clock is injectable, so the formatting and the time-left estimate are tested
without sleeping.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

#: Seconds between progress lines of long loops (every long rule logs at least this often).
PROGRESS_SECONDS = 30.0

#: Seconds between redraws of the terminal progress bar.
BAR_SECONDS = 0.2

#: Characters of the terminal progress bar.
BAR_WIDTH = 24


def format_duration(seconds: float) -> str:
    """``"42 s"``, ``"3 min 05 s"``, ``"2 h 07 min"`` (rounded down to the unit shown)."""
    seconds = max(float(seconds), 0.0)
    if seconds < 60:
        return f"{seconds:.0f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def seconds_left(done: int, total: int, elapsed: float, done_before: int = 0) -> float | None:
    """Time left at the mean pace of this session's steps (``done - done_before`` steps in
    ``elapsed`` seconds); ``None`` before the first step of this session."""
    steps = done - done_before
    if steps <= 0 or total <= 0:
        return None
    return max(total - done, 0) * elapsed / steps


class Progress:
    """Counts the steps of a loop of ``total`` and reports them (see the module docstring).

    Parameters
    ----------
    what : name of one step (``"rotation"``, ``"training step"``).
    total : number of steps of the whole loop.
    logger : where the lines go (a workflow script's log file).
    every_seconds : least interval between two log lines.
    done : steps already done before this run (a resumed training): counted in the percent,
        not in the pace.
    clock : seconds, monotonic (``time.perf_counter``; tests pass a fake one).
    stream : the terminal of the bar; default ``sys.stderr``, drawn only when it is a TTY.
    """

    def __init__(self, what: str, total: int, logger: logging.Logger,
                 every_seconds: float = PROGRESS_SECONDS, *, done: int = 0,
                 clock: Callable[[], float] = time.perf_counter, stream: TextIO | None = None):
        self.what, self.total, self.logger = what, int(total), logger
        self.every_seconds = every_seconds
        self.done = self.done_before = int(done)
        self.clock = clock
        self.start = self.last = self._last_bar = clock()
        self.stream = sys.stderr if stream is None else stream
        self.bar = _is_terminal(self.stream)
        self._lock = threading.Lock()

    def step(self, detail: str = "", count: int = 1) -> None:
        """``count`` more steps done; log a line if ``every_seconds`` have passed."""
        with self._lock:
            self.done += count
            now = self.clock()
            if now - self.last >= self.every_seconds:
                self._clear_bar()
                self.logger.info("%s%s", self.line(now), detail)
                self.last = now
            if self.bar and (now - self._last_bar >= BAR_SECONDS or self.done >= self.total):
                self._draw_bar(now)

    def line(self, now: float | None = None) -> str:
        """``"rotation 850/1600 (53 %, elapsed 2 min 10 s, 1 min 55 s left, 153.0 ms each)"``."""
        now = self.clock() if now is None else now
        elapsed = now - self.start
        each = elapsed / (self.done - self.done_before) if self.done > self.done_before else 0.0
        return (f"{self.what} {self.done}/{self.total} ({self.percent():.0f} %, elapsed "
                f"{format_duration(elapsed)}, {self.time_left_text(now)} left, "
                f"{1e3 * each:.1f} ms each)")

    def time_left_text(self, now: float | None = None) -> str:
        """Time left as :func:`format_duration` text (``"?"`` before the first step)."""
        now = self.clock() if now is None else now
        left = seconds_left(self.done, self.total, now - self.start, self.done_before)
        return "?" if left is None else format_duration(left)

    def percent(self) -> float:
        """Percent of ``total`` done (100 for an empty loop)."""
        return 100.0 * self.done / self.total if self.total > 0 else 100.0

    def seconds(self) -> float:
        """Seconds since the start."""
        return self.clock() - self.start

    def bar_text(self, now: float | None = None) -> str:
        """``"rotation [#########...........] 850/1600 53 % 1 min 55 s left"``."""
        now = self.clock() if now is None else now
        fraction = min(self.percent() / 100.0, 1.0)
        filled = int(round(fraction * BAR_WIDTH))
        return (f"{self.what} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
                f"{self.done}/{self.total} {self.percent():.0f} % {self.time_left_text(now)} left")

    def _draw_bar(self, now: float) -> None:
        end = "\n" if self.done >= self.total else ""
        self.stream.write(f"\r\x1b[K{self.bar_text(now)}{end}")
        self.stream.flush()
        self._last_bar = now
        if end:
            self.bar = False  # finished: later log lines start on a fresh line

    def _clear_bar(self) -> None:
        if self.bar:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False
