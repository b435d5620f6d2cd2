"""The stack launcher under faults: taken ports, stale pid files, a killed process, twice-run
commands. A second native stack runs beside the main one on its own ports and state folder,
which also shows that two stacks do not collide.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from stackctl.processes import running
from tests.support.polling import eventually

STACKCTL = [sys.executable, "-m", "stackctl"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stackctl(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*STACKCTL, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture()
def second_stack_env(tmp_path: Path) -> dict[str, str]:
    """Settings for a second native stack: its own ports and state folder."""
    return {
        **os.environ,
        "STACK": "native",
        "STACK_STATE_DIR": str(tmp_path / "state"),
        "LOCALSTACK_PORT": str(free_port()),
        "OPENSEARCH_PORT": str(free_port()),
        "CONSOLE_PORT": str(free_port()),
        "OPENSEARCH_HEAP": "256m",
    }


@pytest.fixture()
def listener() -> Iterator[int]:
    """A port some other program is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("setting", ["OPENSEARCH_PORT", "CONSOLE_PORT"])
def test_a_taken_port_is_a_clear_error_naming_its_owner(second_stack_env, listener, setting):
    env = {**second_stack_env, setting: str(listener)}
    result = stackctl(env, "up", timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"port {listener} is taken by pid {os.getpid()}" in result.stderr
    assert f"{setting}=<free port>" in result.stderr
    assert not list(Path(env["STACK_STATE_DIR"]).glob("run/*.pid")), "nothing may be started"


def test_a_stale_pid_file_is_reported_and_removed(second_stack_env):
    run_dir = Path(second_stack_env["STACK_STATE_DIR"]) / "run"
    run_dir.mkdir(parents=True)
    pid_file = run_dir / "opensearch.pid"
    # Our own pid is alive but is not an OpenSearch node: it must not be taken for one.
    pid_file.write_text(f"{os.getpid()}\n")
    result = stackctl(second_stack_env, "status")
    assert result.returncode == 1
    assert "removing stale pid file" in result.stdout
    assert "stopped" in result.stdout
    assert not pid_file.exists()


def test_down_when_nothing_runs_is_harmless(second_stack_env):
    first, second = stackctl(second_stack_env, "down"), stackctl(second_stack_env, "down")
    assert (first.returncode, second.returncode) == (0, 0)
    assert "not running" in second.stdout


def test_clean_when_nothing_runs_deletes_the_state_folder(second_stack_env):
    state = Path(second_stack_env["STACK_STATE_DIR"])
    (state / "logs").mkdir(parents=True)
    (state / "logs" / "console.log").write_text("an old log\n")

    result = stackctl(second_stack_env, "clean")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "console: not running" in result.stdout
    assert not state.exists()


def test_second_stack_survives_restarts_and_a_killed_node(second_stack_env):
    env = second_stack_env
    state = Path(env["STACK_STATE_DIR"])
    try:
        up = stackctl(env, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        pids = {
            s: int((state / "run" / f"{s}.pid").read_text())
            for s in ("opensearch", "localstack", "console")
        }
        console = f"http://127.0.0.1:{env['CONSOLE_PORT']}/api/health"
        health = requests.get(console, timeout=30).json()
        assert health["fix"] == "make deploy", "the second stack's console reads its own state"

        again = stackctl(env, "up")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "started" not in again.stdout, "a second `up` must not start anything"

        os.kill(pids["opensearch"], signal.SIGKILL)
        eventually(
            lambda: running(pids["opensearch"]),
            lambda alive: not alive,
            "the killed node to exit",
        )
        status = stackctl(env, "status")
        assert status.returncode == 1 and "opensearch" in status.stdout

        recovered = stackctl(env, "up")
        assert recovered.returncode == 0, recovered.stdout + recovered.stderr
        assert "opensearch: started" in recovered.stdout
        assert "localstack: started" not in recovered.stdout
        new_node = int((state / "run" / "opensearch.pid").read_text())
    finally:
        down = stackctl(env, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    for pid in (pids["localstack"], pids["console"], new_node):
        eventually(lambda pid=pid: running(pid), lambda alive: not alive, f"process {pid} to stop")
    assert not list((state / "run").glob("*.pid"))
