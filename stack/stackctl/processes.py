"""Processes and ports, read from ``/proc`` (no extra tools needed).

Processes are tracked by pid files, never found by name, so two clones of the project (with
different ports) can run side by side and ``down`` stops exactly what ``up`` started.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

from stackctl.bootstrap import StackError, say, shown

STOP_DEADLINE_S = 30.0


def port_owner(port: int) -> str:
    """Describe the process listening on a TCP port."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                inodes.add(fields[9])
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    return f"pid {proc.name}: {cmd[:160].strip()}"
        except OSError:
            continue
    return "another process"


def check_port_free(port: int, setting: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: connections lingering in TIME_WAIT do not make a port taken; a listener
        # still does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise StackError(
                f"port {port} is taken by {port_owner(port)}. Stop that process (if it is "
                f"another stack: `make down` in its folder), or set {setting}=<free port>."
            ) from None


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def proc_status(pid: int) -> str:
    """``/proc/<pid>/status``, or "" when the process is gone."""
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ""


def running(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    status = proc_status(pid)
    return bool(status) and "\nState:\tZ" not in status


def process_alive(pid: int, marker: str) -> bool:
    """True when ``pid`` runs and is the process we started (its command line has ``marker``).

    The marker guards against a stale pid file whose number the kernel gave to another process.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return marker in cmdline and running(pid)


def start_service(
    name: str, argv: list[str], env: dict[str, str], log: Path, pid_file: Path, cwd: Path
) -> int:
    """Start a service's process in a session of its own (``down`` signals the whole process
    group, children included), its output appended to ``log``; record its pid."""
    with log.open("ab") as out:
        out.write(f"\n=== started {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
        out.flush()
        process = subprocess.Popen(
            argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=True,
        )
    pid_file.write_text(f"{process.pid}\n")
    say(f"{name}: started (pid {process.pid}, log {shown(log)})")
    return process.pid


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_process_group(pid: int, name: str) -> None:
    """SIGTERM the process group a service leads (its children too); SIGKILL if it lingers."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_DEADLINE_S
    while time.monotonic() < deadline:
        if not running(pid):
            say(f"{name}: stopped")
            return
        time.sleep(0.2)
    say(f"{name}: did not stop within {STOP_DEADLINE_S:.0f} s, killing it")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def rss_kib(pid: int) -> int:
    """Resident memory of one process (``VmRSS``); 0 when it is gone."""
    match = re.search(r"VmRSS:\s+(\d+)", proc_status(pid))
    return int(match.group(1)) if match else 0


def rss_mib(pid: int) -> int:
    """Resident memory of a process and its children (LocalStack's Lambda runtimes count)."""
    return sum(rss_kib(proc) for proc in [pid, *children_of(pid)]) // 1024


def children_of(pid: int) -> list[int]:
    """Every descendant of a process, children before grandchildren."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *children_of(kid)]
    return found
