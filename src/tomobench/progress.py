"""Progress lines for long loops: at most one every ``every_seconds``, from any thread."""

from __future__ import annotations

import logging
import threading
import time

#: Seconds between progress lines of long loops (every long rule logs at least this often).
PROGRESS_SECONDS = 30.0


class Progress:
    """Counts steps of a loop of ``total`` and logs ``"<what> i/total (t s, x ms each)"``
    through ``logger`` once ``every_seconds`` have passed since the last line."""

    def __init__(self, what: str, total: int, logger: logging.Logger,
                 every_seconds: float = PROGRESS_SECONDS):
        self.what, self.total, self.logger = what, total, logger
        self.every_seconds = every_seconds
        self.done = 0
        self.start = self.last = time.perf_counter()
        self._lock = threading.Lock()

    def step(self, detail: str = "") -> None:
        with self._lock:
            self.done += 1
            now = time.perf_counter()
            if now - self.last >= self.every_seconds:
                elapsed = now - self.start
                self.logger.info("%s %d/%d (%.0f s, %.1f ms each)%s", self.what, self.done,
                                 self.total, elapsed, 1e3 * elapsed / self.done, detail)
                self.last = now

    def seconds(self) -> float:
        return time.perf_counter() - self.start
