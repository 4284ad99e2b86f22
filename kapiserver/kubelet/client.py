"""Connection info from Node objects (addresses by preferred type, daemonEndpoints.kubeletEndpoint)
and dialing the kubelet: directly over TCP (TLS with --kubelet-https), or through a tunneler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, connectProtocol

from ..machinery import errors
from ..tlskeys import ClientFiles

DEFAULT_ADDRESS_TYPES = ("Hostname", "InternalDNS", "InternalIP", "ExternalDNS", "ExternalIP")


@dataclass
class KubeletConfig:
    port: int = 10250
    https: bool = False
    client_certificate: str = ""
    client_key: str = ""
    certificate_authority: str = ""
    preferred_address_types: Tuple[str, ...] = DEFAULT_ADDRESS_TYPES
    timeout: float = 5.0


def node_address(node: dict, preferred: Tuple[str, ...]) -> str:
    """The first of the node's addresses in order of the preferred types (as upstream picks it)."""
    addresses = (node.get("status") or {}).get("addresses") or []
    for kind in preferred:
        for address in addresses:
            if address.get("type") == kind and address.get("address"):
                return address["address"]
    name = node["metadata"]["name"]
    raise errors.internal_error(f'no preferred addresses found; known addresses: {addresses}'
                                if addresses else f'node "{name}" has no addresses')


def kubelet_port(node: dict, default: int) -> int:
    endpoint = ((node.get("status") or {}).get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}
    port = endpoint.get("Port")
    return int(port) if port else default


class KubeletClient:
    def __init__(self, reactor, config: KubeletConfig, nodes_store, tunneler=None):
        self.reactor = reactor
        self.config = config
        self.nodes = nodes_store
        self.tunneler = tunneler
        self.tls_files = ClientFiles(config.certificate_authority, config.client_certificate, config.client_key)

    async def connection_info(self, node_name: str) -> Tuple[str, str, int]:
        """(scheme, host, port) of a node's kubelet."""
        node = await self.nodes.get(None, node_name)
        host = node_address(node, self.config.preferred_address_types)
        return ("https" if self.config.https else "http"), host, kubelet_port(node, self.config.port)

    async def dial(self, host: str, port: int, protocol):
        """Connect `protocol` to host:port, through the tunneler when there is one."""
        if self.tunneler is not None:
            return await self.tunneler.dial(host, port, protocol)
        endpoint_type = TCP6ClientEndpoint if ":" in host else TCP4ClientEndpoint
        endpoint = endpoint_type(self.reactor, host, port, timeout=self.config.timeout)
        if self.config.https:
            from twisted.internet.endpoints import wrapClientTLS
            try:
                material = await self.tls_files.material(self.reactor)
            except (OSError, ValueError) as e:
                raise errors.internal_error(f"error dialing backend: {e}") from None
            endpoint = wrapClientTLS(tls_options(host, *material), endpoint)
        try:
            return await connectProtocol(endpoint, protocol)
        except Exception as e:
            raise errors.internal_error(f"error dialing backend: dial tcp {host}:{port}: {e}") from None


def tls_options(host: str, trust, client: dict):
    """The kubelet client's TLS: the kubelet's serving certificate verified against ``trust`` (the
    --kubelet-certificate-authority bundle's root) and ``client`` (its --kubelet-client-certificate and key)."""
    from twisted.internet import ssl
    if trust is None:
        # Without --kubelet-certificate-authority the kubelet's serving certificate is not verified,
        # as upstream's kubelet client has it (kubelets' certificates are usually self-signed).
        return ssl.CertificateOptions(verify=False, **client)
    return ssl.optionsForClientTLS(host, trustRoot=trust, extraCertificateOptions=client)


def kubelet_config(config) -> KubeletConfig:
    """The --kubelet-* flags of a ServerConfig (defaults where it has none)."""
    access = getattr(config, "node_access", None)
    return access.kubelet if access is not None else KubeletConfig()
