"""Polling with a deadline: the only way tests here wait for something to happen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimedOut(AssertionError):
    """What was awaited did not happen in time (an assertion: pytest reports a failure)."""


def eventually(
    probe: Callable[[], T],
    done: Callable[[T], bool],
    what: str,
    timeout: float = 30.0,
    interval: float = 0.2,
) -> T:
    """Call ``probe`` until ``done(result)`` holds; fail with the last result seen otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        last = probe()
        if done(last):
            return last
        if time.monotonic() > deadline:
            raise WaitTimedOut(
                f"after {timeout:.0f} s still waiting for {what}; last seen: {last!r}"
            )
        time.sleep(interval)
