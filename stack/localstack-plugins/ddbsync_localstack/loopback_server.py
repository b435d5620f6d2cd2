"""LocalStack's twisted gateway server, bound to the interface ``GATEWAY_LISTEN`` names.

Why: LocalStack 4.14's twisted runtime server (``localstack/runtime/server/twisted.py``) drops
the host of an IPv4 ``GATEWAY_LISTEN`` entry ("TODO: interface = host?") and listens on
``0.0.0.0``. With functions run as host processes (``LAMBDA_RUNTIME_EXECUTOR=process``), anyone
who can reach the port could create a function and run code on this machine. The launcher
selects this server with ``GATEWAY_SERVER=twisted-loopback`` (a plux plugin in
``localstack.runtime.server``, LocalStack's own extension point for the server) and sets
``GATEWAY_LISTEN=127.0.0.1:<port>``.

Only ``register`` differs from the stock server: every endpoint gets its host as interface.
A host that is not a loopback address is refused, so a stray ``GATEWAY_LISTEN=0.0.0.0:…``
fails at start-up instead of exposing the gateway.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from localstack import config
from localstack.aws.serving.twisted import TLSMultiplexerFactory
from localstack.runtime.server.core import RuntimeServer, RuntimeServerPlugin
from localstack.runtime.server.twisted import TwistedRuntimeServer
from rolo.serving.twisted import TwistedGateway
from twisted.internet import endpoints, reactor, ssl

if TYPE_CHECKING:
    from rolo.gateway import Gateway

SERVER_NAME = "twisted-loopback"


class NotLoopbackError(ValueError):
    """A listen address that other machines could reach."""


def loopback_interface(host: str) -> str:
    """The interface to bind for ``host``: a loopback address, or an error naming the fix."""
    address = "127.0.0.1" if host == "localhost" else host.strip("[]")
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise NotLoopbackError(
            f"GATEWAY_LISTEN names {host!r}: the {SERVER_NAME} server binds loopback "
            "addresses only (127.0.0.1 or ::1)"
        )
    return address


class LoopbackTwistedRuntimeServer(TwistedRuntimeServer):
    """The stock twisted server (run/shutdown inherited) that binds the configured host."""

    def register(
        self,
        gateway: Gateway,
        listen: list[config.HostAndPort],
        ssl_creds: tuple[str, str] | None = None,
    ) -> None:
        # Check every address before binding any, so a bad list binds nothing.
        interfaces = [(loopback_interface(hp.host), hp.port) for hp in listen]
        site = TwistedGateway(gateway)
        protocol_factory = site
        if ssl_creds:
            cert_file_name, key_file_name = ssl_creds
            context_factory = ssl.DefaultOpenSSLContextFactory(key_file_name, cert_file_name)
            context_factory.getContext().use_certificate_chain_file(cert_file_name)
            protocol_factory = TLSMultiplexerFactory(context_factory, False, site)
        for interface, port in interfaces:
            endpoint_type = (
                endpoints.TCP6ServerEndpoint
                if config.is_ipv6_address(interface)
                else endpoints.TCP4ServerEndpoint
            )
            endpoint_type(reactor, port, interface=interface).listen(protocol_factory)


class LoopbackTwistedRuntimeServerPlugin(RuntimeServerPlugin):
    name = SERVER_NAME

    def load(self, *args: object, **kwargs: object) -> RuntimeServer:
        return LoopbackTwistedRuntimeServer()
