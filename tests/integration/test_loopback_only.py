"""The local stack listens on loopback only: nothing another machine could reach.

Every process of the running stack (LocalStack, the OpenSearch node, the console, and what they
started: Lambda runtimes, ...) is found from the pid files ``stackctl up`` writes; each listening
TCP socket they hold must be bound to 127.0.0.1 or ::1. A function runs as a host process here, so
a gateway reachable from the network would run anyone's code on this machine.
"""

from __future__ import annotations

import ipaddress

import psutil
import pytest

from stackctl.console import CONSOLE
from stackctl.processes import read_pid
from stackctl.services import SERVICES
from stackctl.settings import Paths, load_settings
from tests.support.api import BooksApi

pytestmark = [pytest.mark.stack]


def stack_processes() -> list[psutil.Process]:
    paths = Paths.from_env()
    roots = []
    for service in (*SERVICES, CONSOLE):
        pid = read_pid(paths.pid_file(service.name))
        assert pid is not None, f"{service.name} is not running natively (no pid file)"
        roots.append(psutil.Process(pid))
    return [p for root in roots for p in (root, *root.children(recursive=True))]


def is_loopback(host: str) -> bool:
    address = ipaddress.ip_address(host)
    # A dual-stack socket bound to 127.0.0.1 shows as ::ffff:127.0.0.1 (the JVM binds so).
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def listening(processes: list[psutil.Process]) -> dict[str, list[str]]:
    """``"<pid> <name>"`` -> the addresses its listening TCP sockets are bound to."""
    found: dict[str, list[str]] = {}
    for process in processes:
        try:
            sockets = process.net_connections(kind="tcp")
            name = f"{process.pid} {' '.join(process.cmdline())[:100]}"
        except psutil.NoSuchProcess:
            continue  # a runtime that ended meanwhile holds nothing
        found[name] = [
            f"{s.laddr.ip}:{s.laddr.port}" for s in sockets if s.status == psutil.CONN_LISTEN
        ]
    return found


def test_every_listening_socket_of_the_stack_is_on_loopback(api_url: str) -> None:
    # A search call starts the search function's runtime (and its listener) if none runs yet.
    BooksApi(api_url).query("search", [("q", "loopback")])

    sockets = listening(stack_processes())

    exposed = {
        name: [a for a in addresses if not is_loopback(a.rsplit(":", 1)[0])]
        for name, addresses in sockets.items()
    }
    assert {name: bad for name, bad in exposed.items() if bad} == {}
    # The check saw the gateway, the node's HTTP port and at least one Lambda runtime.
    ports = {int(a.rsplit(":", 1)[1]) for addresses in sockets.values() for a in addresses}
    settings = load_settings()
    assert {service.port(settings) for service in SERVICES} <= ports
    assert len([name for name, addresses in sockets.items() if addresses]) >= 3, sockets
