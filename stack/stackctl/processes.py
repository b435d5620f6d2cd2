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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Tracked:
    """What a pid file records: the pid and the process's start time.

    The start time (``/proc/<pid>/stat`` field 22, clock ticks since boot) is fixed when the
    process is forked and survives ``exec``, so it tells our process from a later one that got
    the same pid -- from the first moment. A command line cannot: right after ``Popen``
    returns, the child may still be inside ``execve`` with an empty ``/proc/<pid>/cmdline``
    (measured: more than half of the launches of a JVM), and a launcher that checked it then
    took its own starting node for a stranger and dropped its pid file.
    """

    pid: int
    started: int | None
    """``None`` in a pid file written by an older launcher (only the pid)."""


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or ``None`` when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from the last ")".
    after_name = stat[stat.rindex(")") + 2 :].split()
    return int(after_name[19])  # field 22; after_name[0] is field 3


def write_pid_file(pid_file: Path, pid: int) -> None:
    """Record ``pid`` and its start time (call it while the process cannot have been reaped)."""
    pid_file.write_text(f"{pid} {start_time(pid) or ''}".rstrip() + "\n")


def read_pid_file(pid_file: Path) -> Tracked | None:
    try:
        fields = pid_file.read_text().split()
        return Tracked(int(fields[0]), int(fields[1]) if len(fields) > 1 else None)
    except (OSError, ValueError, IndexError):
        return None


def read_pid(pid_file: Path) -> int | None:
    tracked = read_pid_file(pid_file)
    return tracked.pid if tracked else None


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
    """True when ``pid`` runs and its command line has ``marker``.

    Only for pid files without a start time (`Tracked`): never call it on a process that may
    still be inside ``execve``.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return marker in cmdline and running(pid)


def start_service(
    name: str, argv: list[str], env: dict[str, str], log: Path, pid_file: Path, cwd: Path
) -> subprocess.Popen[bytes]:
    """Start a service's process in a session of its own (``down`` signals the whole process
    group, children included), its output appended to ``log``; record its pid and start time.
    The caller keeps the `Popen`: asking it whether the child exited is exact, where ``/proc``
    may still show the launcher's command line before the child has exec'd."""
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
    # The child cannot have been reaped yet (we have not waited): its start time is its.
    write_pid_file(pid_file, process.pid)
    say(f"{name}: started (pid {process.pid}, log {shown(log)})")
    return process


def is_ours(tracked: Tracked, marker: str) -> bool:
    """Whether the process a pid file names still exists (zombies included): the same pid
    *and* start time, or, for an old pid file, the marker in its command line."""
    if tracked.started is None:
        return process_alive(tracked.pid, marker)
    return start_time(tracked.pid) == tracked.started


def threads(pid: int) -> int:
    """Threads of a process still alive (a zombie leader counts as one); 0 when it is gone."""
    match = re.search(r"Threads:\s+(\d+)", proc_status(pid))
    return int(match.group(1)) if match else 0


def group_members(pgid: int) -> list[int]:
    """The processes in process group ``pgid`` (``/proc/<pid>/stat`` field 5)."""
    members = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[2]) == pgid:
            members.append(int(proc.name))
    return members


def kill_leftovers(tracked: Tracked) -> None:
    """SIGKILL what is left of the process group a dead service of ours led (LocalStack's
    Lambda runtimes outlive a LocalStack killed with SIGKILL).

    Safe only for a group whose leader we started (a pid file with a start time) and that
    is dead or a zombie: the kernel gives no new process a pid still used as a group id, so
    every member is a descendant of our leader.
    """
    if tracked.started is None or running(tracked.pid):
        return
    if start_time(tracked.pid) not in (None, tracked.started):
        return  # the pid is someone else's now (a zombie of another parent)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(tracked.pid, signal.SIGKILL)


def wait_until_wound_down(pid: int, deadline_s: float = STOP_DEADLINE_S) -> bool:
    """Wait until a killed process has let go of everything: only a zombie (or nothing) left.

    A JVM killed with SIGKILL turns into a zombie leader while its other threads are still
    exiting, holding the port and the node's lock files until the last one is gone; a new
    node started in that moment fails. True when it wound down within the deadline.
    """
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if running(pid) or threads(pid) > 1:
            time.sleep(0.1)
            continue
        return True
    return False


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
