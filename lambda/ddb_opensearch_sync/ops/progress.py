"""Progress display for the operator commands: count, rate and ETA.

On a terminal a `rich` progress bar (rich is a CLI/dev dependency: imported lazily, and the
plain printer takes over when it is missing, so the function zip never needs it); otherwise,
for logs and CI, one plain line every few seconds and one at the end. Thread-safe: the scan
workers of a backfill report into one display.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any, Protocol

__all__ = ["NullProgress", "PlainProgress", "Progress", "format_duration", "make_progress"]


class Progress(Protocol):
    def start(self, description: str, total: int | None) -> None: ...

    def advance(self, count: int) -> None: ...

    def finish(self) -> None: ...


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class NullProgress:
    """Shows nothing (``--quiet``)."""

    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def finish(self) -> None:
        pass


class PlainProgress:
    """One line per ``interval`` seconds: ``backfill: 1200/5000 items (24%), 850/s, ETA 4s``."""

    def __init__(self, stream: IO[str], *, interval: float = 5.0, unit: str = "items") -> None:
        self.stream = stream
        self.interval = interval
        self.unit = unit
        self._lock = threading.Lock()
        self._description = ""
        self._total: int | None = None
        self._done = 0
        self._started = self._last = time.monotonic()

    def start(self, description: str, total: int | None) -> None:
        with self._lock:
            self._description, self._total, self._done = description, total, 0
            self._started = self._last = time.monotonic()

    def advance(self, count: int) -> None:
        with self._lock:
            self._done += count
            now = time.monotonic()
            if now - self._last >= self.interval:
                self._last = now
                self._print(now)

    def finish(self) -> None:
        with self._lock:
            self._print(time.monotonic(), final=True)

    def _print(self, now: float, *, final: bool = False) -> None:
        elapsed = max(now - self._started, 1e-9)
        rate = self._done / elapsed
        count = f"{self._done}" if self._total is None else f"{self._done}/{self._total}"
        parts = [f"{self._description}: {count} {self.unit}"]
        if self._total and not final:
            parts[0] += f" ({min(self._done / self._total, 1):.0%})"
        parts.append(f"{rate:.0f} {self.unit}/s")
        if final:
            parts.append(f"in {format_duration(elapsed)}")
        elif self._total and rate > 0 and self._done < self._total:
            parts.append(f"ETA {format_duration((self._total - self._done) / rate)}")
        print(", ".join(parts), file=self.stream, flush=True)


class RichProgress:
    """A rich progress bar with count, rate and ETA (the total is an estimate: it may grow)."""

    def __init__(self, stream: IO[str], *, unit: str = "items") -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        self._bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self.unit = unit
        self._lock = threading.Lock()
        self._task: Any = None
        self._done = 0
        self._total: int | None = None
        self._started = time.monotonic()

    def start(self, description: str, total: int | None) -> None:
        with self._lock:
            if self._task is None:
                self._bar.start()
            else:
                self._bar.stop_task(self._task)
            self._done, self._total, self._started = 0, total, time.monotonic()
            self._task = self._bar.add_task(description, total=total, rate="")

    def advance(self, count: int) -> None:
        with self._lock:
            self._done += count
            rate = self._done / max(time.monotonic() - self._started, 1e-9)
            # A table's item count is approximate: never let the bar claim more than 100%.
            total = None if self._total is None else max(self._total, self._done)
            self._bar.update(
                self._task, advance=count, total=total, rate=f"{rate:.0f} {self.unit}/s"
            )

    def finish(self) -> None:
        with self._lock:
            if self._task is not None:
                self._bar.update(self._task, total=self._done, completed=self._done)
                self._bar.stop()
                self._task = None


def make_progress(
    mode: str = "auto", stream: IO[str] | None = None, *, interval: float = 5.0
) -> Progress:
    """``auto`` (a bar on a terminal, plain lines otherwise), ``bar``, ``plain`` or ``none``."""
    out = stream or sys.stderr
    if mode == "none":
        return NullProgress()
    if mode == "bar" or (mode == "auto" and out.isatty()):
        try:
            return RichProgress(out)
        except ImportError:  # rich is a dev extra; the plain printer needs nothing
            pass
    return PlainProgress(out, interval=interval)
