"""Outages of the local stack's OpenSearch node: kill it with SIGKILL (a paused node would
queue the requests and apply them later, which is no outage), then bring it back the way
``make up`` does."""

from __future__ import annotations

import os
import signal

from stackctl import cli as stackctl
from stackctl.processes import read_pid, running
from stackctl.settings import Paths
from tests.support.polling import eventually


def opensearch_pid() -> int:
    pid = read_pid(Paths.from_env().pid_file("opensearch"))
    assert pid is not None, "the OpenSearch node is not running (make up)"
    return pid


def kill_opensearch() -> None:
    """``kill -9`` the node and wait until it is gone."""
    pid = opensearch_pid()
    os.kill(pid, signal.SIGKILL)
    eventually(lambda: running(pid), lambda alive: not alive, "the killed node to exit")


def bring_back() -> None:
    """``stackctl up`` (what ``make up`` runs): starts what is not running and waits until it
    is healthy."""
    assert stackctl.main(["up"]) == 0, "stackctl up failed (its output is above)"
