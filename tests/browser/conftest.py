"""Fixtures of the console's tests: where the console is, a browser page, and consoles of
their own (on free ports) for stacks that are down or have nothing deployed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from stackctl.deploy import DEPLOYED_NAMES
from tests.support.browser import chromium_page
from tests.support.polling import eventually
from tests.support.settings import DLQ_URL, SettingMissing, Settings

# The page's waits (each `expect`) poll until this deadline; a loaded machine needs more than
# Playwright's 5 s default for the first health report.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def console_url() -> str:
    """The stack's console (``make env`` prints CONSOLE_URL; `make up`/`make deploy` start it)."""
    url = os.environ.get("CONSOLE_URL")
    if not url:
        pytest.fail('CONSOLE_URL is not set: run `make deploy`, then `eval "$(make -s env)"`')
    return url


@pytest.fixture(scope="session")
def dlq_url(settings: Settings) -> str:
    try:
        return settings.require(DLQ_URL)
    except SettingMissing as missing:
        pytest.fail(str(missing))


@pytest.fixture()
def page(tmp_path: Path) -> Iterator[Page]:
    with chromium_page(tmp_path / "profile") as page:
        yield page


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def own_console(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``own_console(**settings)``: a console of its own on a free port, with an empty state
    folder (nothing deployed) and ``settings`` overriding the stack's; returns its URL."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**settings: str) -> str:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in DEPLOYED_NAMES}
        env.update(settings, STACK_STATE_DIR=str(tmp_path / "state"))
        argv = [sys.executable, "-m", "sync_console.server", "--port", str(port)]
        log = (tmp_path / f"console-{port}.log").open("wb")
        started.append(
            subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )
        url = f"http://127.0.0.1:{port}/"
        eventually(lambda: _answers(url), bool, f"the console on port {port} to answer", 30)
        return url

    yield start
    for process in started:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False
