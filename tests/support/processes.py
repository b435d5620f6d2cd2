"""Host processes seen through ``/proc`` (the native stack's services and Lambda runtimes)."""

from __future__ import annotations

from pathlib import Path


def alive(pid: int) -> bool:
    """Whether a process of this host runs (a zombie does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status
