"""A real browser for the console's tests: Debian's Chromium, headless, driven by Playwright.

Playwright's own browser download is not used (`stackctl tools` installs Debian's
``chromium``). The flags are those known to work on these machines: without the
background-networking ones Chromium keeps trying to reach Google's hosts, which a closed
network refuses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}


@contextmanager
def chromium_page(profile: Path) -> Iterator[Page]:
    """A page in headless Chromium with a fresh profile folder (``--user-data-dir``)."""
    with sync_playwright() as playwright:
        # Playwright adds --headless, and --no-sandbox (chromium_sandbox defaults to off).
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport=VIEWPORT,
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
