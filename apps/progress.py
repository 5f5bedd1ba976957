"""Progress of long work: a live bar on a terminal (tqdm), one plain line per step otherwise.

A log file or a CI console gets whole lines (no carriage returns), about ten per run, and one
at least every ``interval`` seconds of wall time while updates come, so a slow run shows life.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from tqdm import tqdm

__all__ = ["Progress"]


class Progress:
    """Progress toward ``total`` (e.g. simulated seconds).

    Args:
        total: Value at completion.
        desc: Name shown in front (e.g. "run").
        unit: Unit of ``total`` for the bar.
        lines: Plain lines over the whole run when the output is not a terminal.
        interval: Most wall seconds between plain lines while updates come.
        file: Where to write (default stderr).
        clock: Wall clock in seconds (for tests).
    """

    def __init__(
        self,
        total: float,
        *,
        desc: str,
        unit: str = "s",
        lines: int = 10,
        interval: float = 30.0,
        file: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.file = sys.stderr if file is None else file
        self.total = float(total)
        self.desc = desc
        self.step = self.total / max(lines, 1)
        self.next = self.step
        self.value = 0.0
        self.written = -1.0  # value of the last plain line
        self.interval = float(interval)
        self.clock = clock
        self.written_at = clock()
        isatty = getattr(self.file, "isatty", None)
        self.bar = None
        if isatty is not None and isatty():
            layout = "{desc} {bar} {n:.1f}/{total:g} {unit} [{elapsed}] {postfix}"
            self.bar = tqdm(
                total=self.total, desc=desc, unit=unit, file=self.file, bar_format=layout
            )

    def update(self, value: float, **fields: Any) -> None:
        """Progress has reached ``value``; ``fields`` are shown beside it."""
        self.value = min(float(value), self.total)
        text = " ".join(f"{k}={v}" for k, v in fields.items())
        if self.bar is not None:
            self.bar.n = self.value
            self.bar.set_postfix_str(text, refresh=True)
        elif self.value >= self.next or self.clock() - self.written_at >= self.interval:
            self._line(text)
            while self.next <= self.value:
                self.next += self.step

    def close(self, **fields: Any) -> None:
        """Finish: close the bar, or write the last line if it was not written yet."""
        text = " ".join(f"{k}={v}" for k, v in fields.items())
        if self.bar is not None:
            if text:
                self.bar.set_postfix_str(text, refresh=True)
            self.bar.close()
        elif self.value != self.written:
            self._line(text)

    def _line(self, text: str) -> None:
        self.written = self.value
        self.written_at = self.clock()
        done = 100.0 * self.value / self.total if self.total > 0 else 100.0
        self.file.write(f"{self.desc}: {done:5.1f}% {self.value:.1f}/{self.total:g} {text}\n")
        self.file.flush()
