"""The sync console: a host process beside the stack, in both stack modes.

It runs on the host even in compose mode: it is part of this project (installed in
``.venv/tools``, reading the deployment's files in the state folder and the stack's loopback
ports), and a container of it would need an image built from a base image pulled from Docker
Hub, which is not one of the registries this project may use.

Like the native services, it is tracked by a pid file (never found by name), checked for a
free port before it starts, and listens on loopback only.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error

from stackctl import processes
from stackctl.bootstrap import StackError, say, shown
from stackctl.services import Service, http_get_json
from stackctl.settings import Paths

CONSOLE = Service("console", "CONSOLE_PORT", "sync_console.server")
STARTUP_DEADLINE_S = 30.0


def console_url(settings: dict[str, str]) -> str:
    return f"http://127.0.0.1:{CONSOLE.port(settings)}/"


def answers(settings: dict[str, str]) -> bool:
    """True when the console answers its own liveness endpoint."""
    try:
        alive = http_get_json(f"{console_url(settings)}healthz")
    except (OSError, urllib.error.URLError, ValueError):
        return False
    return isinstance(alive, dict) and alive.get("console") == "up"


class ConsoleProcess:
    def __init__(self, settings: dict[str, str], paths: Paths) -> None:
        self.settings = settings
        self.paths = paths
        self.pid_file = paths.pid_file(CONSOLE.name)
        self.log = paths.log_file(CONSOLE.name)

    def pid(self) -> int | None:
        """The pid of our running console; a stale pid file is removed with a note."""
        tracked = processes.read_pid_file(self.pid_file)
        if tracked is None:
            return None
        if processes.is_ours(tracked, CONSOLE.marker) and processes.running(tracked.pid):
            return tracked.pid
        say(f"console: removing stale pid file (process {tracked.pid} is gone or not ours)")
        self.pid_file.unlink(missing_ok=True)
        return None

    def check_port(self) -> None:
        """Before anything starts: a console to start needs its port free."""
        if self.pid() is None:
            processes.check_port_free(CONSOLE.port(self.settings), CONSOLE.port_setting)

    def up(self) -> None:
        """Start the console unless it runs; wait until it answers."""
        pid = self.pid()
        if pid is None:
            self.check_port()
            pid = self.start()
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while not answers(self.settings):
            # Not `self.pid()`: a child that has not yet exec'd still shows our command line,
            # which the marker check would take for a stale pid.
            if not processes.running(pid) or time.monotonic() > deadline:
                raise StackError(
                    f"the console did not start; last lines of {shown(self.log)}:\n"
                    f"{processes.log_tail(self.log)}"
                )
            time.sleep(0.2)

    def start(self) -> int:
        for folder in (self.paths.run, self.paths.logs):
            folder.mkdir(parents=True, exist_ok=True)
        port = str(CONSOLE.port(self.settings))
        # The stack's settings and state folder, so it reads this stack's deployment.
        env = {**os.environ, **self.settings, "STACK_STATE_DIR": str(self.paths.state)}
        argv = [sys.executable, "-m", CONSOLE.marker, "--port", port]
        return processes.start_service(
            CONSOLE.name, argv, env, self.log, self.pid_file, cwd=self.paths.state
        ).pid

    def down(self) -> None:
        pid = self.pid()
        if pid is None:
            say("console: not running")
            return
        processes.stop_process_group(pid, CONSOLE.name)
        self.pid_file.unlink(missing_ok=True)

    def status(self) -> bool:
        """Print the console's line of ``stackctl status``; True when it answers."""
        pid = self.pid()
        port = CONSOLE.port(self.settings)
        if pid is None:
            state, ok = "stopped", False
        elif answers(self.settings):
            url = console_url(self.settings)
            state, ok = f"healthy  (pid {pid}, rss {processes.rss_mib(pid)} MiB) {url}", True
        else:
            state, ok = f"starting or unhealthy (pid {pid})", False
        print(f"{CONSOLE.name:<11} :{port:<6} {state}")
        return ok
