"""Stack figures: how long ``make up`` and ``make deploy`` take, and what each process holds.

Memory is read from ``/proc`` (``VmRSS``) for the processes ``make up`` started (their pid
files), split into OpenSearch, LocalStack itself and LocalStack's children (the Lambda
execution environments of the host executor). `MemorySampler` samples in the background
while a benchmark runs and keeps the peak per process.

The lifecycle timings use a *scratch* native stack on free ports with its own state folder,
so that the stack the benchmark reads is never stopped: ``make up`` fresh (a new state folder;
the virtualenvs and the OpenSearch build already exist, as after a first ``make up``),
``make up`` again (nothing to do), ``make deploy`` (a first apply into the new LocalStack),
and ``make down`` + ``make up`` (a warm restart: data folder kept).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import ROOT
from stackctl.processes import children_of, read_pid, rss_kib
from stackctl.settings import Paths
from tests.support.settings import DEPLOYED

__all__ = [
    "MemorySampler",
    "lambda_environment_count",
    "lifecycle",
    "process_cpu",
    "process_memory",
    "stack_pids",
]

MAKE_TIMEOUT = 600.0


def stack_pids(state_dir: Path | None = None) -> dict[str, int]:
    """The pids in a native stack's pid files (none for compose, or a stack that is down)."""
    paths = Paths(state_dir.resolve()) if state_dir else Paths.from_env()
    pids: dict[str, int] = {}
    for name in ("opensearch", "localstack"):
        pid = read_pid(paths.pid_file(name))
        if pid is not None and Path(f"/proc/{pid}").exists():
            pids[name] = pid
    return pids


def process_memory(pids: dict[str, int]) -> dict[str, float]:
    """Resident MiB of OpenSearch, of LocalStack alone and of its children together."""
    memory: dict[str, float] = {}
    if "opensearch" in pids:
        pid = pids["opensearch"]
        memory["opensearch"] = sum(rss_kib(p) for p in [pid, *children_of(pid)]) / 1024
    if "localstack" in pids:
        pid = pids["localstack"]
        memory["localstack"] = rss_kib(pid) / 1024
        memory["lambda_environments"] = sum(rss_kib(p) for p in children_of(pid)) / 1024
    return {k: round(v, 1) for k, v in memory.items()}


def lambda_environment_count(pids: dict[str, int]) -> int:
    """LocalStack's direct children: one per Lambda execution environment (host executor)."""
    if "localstack" not in pids:
        return 0
    return sum(
        len((task / "children").read_text().split())
        for task in Path(f"/proc/{pids['localstack']}/task").glob("*")
        if (task / "children").exists()
    )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its reaped children not included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by OpenSearch, LocalStack and LocalStack's live children."""
    cpu: dict[str, float] = {}
    if "opensearch" in pids:
        cpu["opensearch"] = _cpu_seconds(pids["opensearch"])
    if "localstack" in pids:
        cpu["localstack"] = _cpu_seconds(pids["localstack"])
        cpu["lambda_environments"] = sum(_cpu_seconds(p) for p in children_of(pids["localstack"]))
    # The benchmark itself: the in-process handler, the writers and pollers.
    cpu["bench_process"] = _cpu_seconds(os.getpid())
    return cpu


@dataclass
class MemorySampler:
    """Peak resident memory per process while running, sampled every ``interval`` seconds,
    and the share of one core each process used over the whole time (``cpu_pct``)."""

    pids: dict[str, int]
    interval: float = 0.5
    peak: dict[str, float] = field(default_factory=dict)
    cpu_pct: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _cpu_start: dict[str, float] = field(default_factory=dict)
    _began: float = 0.0

    def __enter__(self) -> MemorySampler:
        self._cpu_start = process_cpu(self.pids)
        self._began = time.monotonic()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        elapsed = time.monotonic() - self._began
        for name, seconds in process_cpu(self.pids).items():
            # Lambda environments may come and go: only a positive difference means anything.
            used = max(0.0, seconds - self._cpu_start.get(name, 0.0))
            self.cpu_pct[name] = round(100 * used / elapsed, 1) if elapsed > 0 else 0.0

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        for name, mib in process_memory(self.pids).items():
            self.peak[name] = max(mib, self.peak.get(name, 0.0))
        count = float(lambda_environment_count(self.pids))
        self.peak["lambda_environment_count"] = max(
            count, self.peak.get("lambda_environment_count", 0.0)
        )


# --- lifecycle timings --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _make(target: str, env: dict[str, str]) -> tuple[float, str]:
    """Run ``make <target>``; its wall time and output. Raises on failure."""
    began = time.monotonic()
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), target],
        env=env,
        capture_output=True,
        text=True,
        timeout=MAKE_TIMEOUT,
        check=False,
    )
    elapsed = time.monotonic() - began
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-1500:]
        raise RuntimeError(f"make {target} failed ({result.returncode}):\n{tail}")
    return elapsed, result.stdout


def _scratch_env(state: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        # The running stack's deployed names must not leak into the scratch stack.
        if k not in DEPLOYED
    }
    env.update(
        STACK="native",
        STACK_STATE_DIR=str(state),
        LOCALSTACK_PORT=str(_free_port()),
        OPENSEARCH_PORT=str(_free_port()),
        CONSOLE_PORT=str(_free_port()),
    )
    return env


def lifecycle(say: Callable[[str], None]) -> dict[str, Any]:
    """Time ``make up`` (fresh, no-op, warm restart) and ``make deploy`` on a scratch stack."""
    state = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    env = _scratch_env(state)
    figures: dict[str, Any] = {
        "scratch_ports": {
            "localstack": env["LOCALSTACK_PORT"],
            "opensearch": env["OPENSEARCH_PORT"],
        },
        "note": "fresh = new state folder; virtualenvs and the OpenSearch build already present",
    }
    try:
        say("stack: make up (fresh state folder)")
        figures["make_up_fresh_s"] = round(_make("up", env)[0], 1)
        figures["make_up_noop_s"] = round(_make("up", env)[0], 2)
        say("stack: make deploy (first apply into the scratch stack)")
        deploy_s, output = _make("deploy", env)
        figures["make_deploy_s"] = round(deploy_s, 1)
        # deploy.py reports its own time inside the deploy lock: the difference is waiting for
        # another deploy of this clone (another stack's) to finish.
        inside = re.search(r"deploy: done in (\d+) s", output)
        figures["make_deploy_inside_lock_s"] = int(inside.group(1)) if inside else None
        time.sleep(5)  # let start-up work settle before reading memory
        figures["memory_after_deploy_mib"] = process_memory(stack_pids(state))
        say("stack: make down + make up (warm restart)")
        _make("down", env)
        figures["make_up_warm_s"] = round(_make("up", env)[0], 1)
    finally:
        try:
            _make("down", env)
        finally:
            shutil.rmtree(state, ignore_errors=True)
    return figures
