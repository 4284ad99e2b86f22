"""The apiserver's flags for reaching nodes (--kubelet-*, --ssh-*) and for its own runtime limits
(--max-requests-inflight, --max-mutating-requests-inflight, --enable-priority-and-fairness,
--max-connection-bytes-per-sec)."""

from __future__ import annotations

import dataclasses
from typing import Tuple

from ..flags import OptionError, parse_bool, parse_duration, split_list
from .client import DEFAULT_ADDRESS_TYPES, KubeletConfig

PARAMETERS = [
    ("kubelet-port", "10250", "DEPRECATED: the kubelet port used when a Node does not report "
                              "daemonEndpoints.kubeletEndpoint."),
    ("kubelet-https", "false", "Use https for kubelet connections (kapiserver's kube-node serves plain "
                               "http unless given --serve-https or a TLS or authentication flag, hence false "
                               "by default)."),
    ("kubelet-client-certificate", None, "Client certificate (PEM) for TLS to kubelets."),
    ("kubelet-client-key", None, "Client key (PEM) for TLS to kubelets."),
    ("kubelet-certificate-authority", None, "CA bundle (PEM) that kubelets' serving certificates must chain to; "
                                            "without it they are not verified."),
    ("kubelet-preferred-address-types", ",".join(DEFAULT_ADDRESS_TYPES),
     "Node address types to use for kubelet connections, in order of preference."),
    ("kubelet-timeout", "5s", "Timeout for connecting to a kubelet (a Go duration)."),
    ("ssh-user", None, "If non-empty, reach nodes through SSH tunnels as this user."),
    ("ssh-keyfile", None, "If non-empty, the private key file for the SSH tunnels."),
    ("max-requests-inflight", "400", "The most non-mutating requests in flight at once; more are "
                                     "answered 429. 0 means no limit. With API Priority and Fairness, "
                                     "this plus --max-mutating-requests-inflight is the server's total "
                                     "concurrency shared among the priority levels."),
    ("max-mutating-requests-inflight", "200", "The most mutating requests in flight at once; more are "
                                              "answered 429. 0 means no limit."),
    ("enable-priority-and-fairness", "true", "If true, classify every request by the FlowSchemas and limit "
                                             "it by its priority level (API Priority and Fairness) instead "
                                             "of the two max-in-flight limits."),
    ("max-connection-bytes-per-sec", "0", "If non-zero, limit each long-running stream to this many bytes "
                                         "per second in each direction."),
]
BOOLEAN_FLAGS = frozenset({"kubelet-https", "enable-priority-and-fairness"})
_ADDRESS_TYPES = frozenset(DEFAULT_ADDRESS_TYPES)


@dataclasses.dataclass(frozen=True)
class NodeAccessConfig:
    kubelet: KubeletConfig = dataclasses.field(default_factory=KubeletConfig)
    ssh_user: str = ""
    ssh_keyfile: str = ""
    max_requests_inflight: int = 400
    max_mutating_requests_inflight: int = 200
    enable_priority_and_fairness: bool = True
    max_connection_bytes_per_sec: int = 0


def parse_node_access(options) -> NodeAccessConfig:
    """The node-access flags of ``options`` (keyed by long flag name); OptionError names an unusable one."""
    error, split = OptionError, split_list
    defaults = dict((name, default) for name, default, _ in PARAMETERS)

    def get(flag):
        value = options.get(flag)
        if value is None:
            value = defaults[flag]
        return "" if value is None else value

    def number(flag):
        text = str(get(flag)).strip()
        try:
            value = int(text)
        except ValueError:
            raise error(flag, f'invalid argument "{text}" for "--{flag}" flag: strconv.ParseInt: parsing '
                              f'"{text}": invalid syntax') from None
        if value < 0:
            raise error(flag, f"--{flag} must not be negative")
        return value

    try:
        https = parse_bool(str(get("kubelet-https")))
    except ValueError:
        raise error("kubelet-https", f'invalid argument "{get("kubelet-https")}" for "--kubelet-https" flag') \
            from None
    try:
        apf = parse_bool(str(get("enable-priority-and-fairness")))
    except ValueError:
        raise error("enable-priority-and-fairness", f'invalid argument "{get("enable-priority-and-fairness")}" '
                                                    f'for "--enable-priority-and-fairness" flag') from None
    types: Tuple[str, ...] = tuple(split(get("kubelet-preferred-address-types")))
    unknown = [t for t in types if t not in _ADDRESS_TYPES]
    if unknown or not types:
        raise error("kubelet-preferred-address-types",
                    f"--kubelet-preferred-address-types: unsupported address type(s) {unknown}")
    try:
        timeout = parse_duration(str(get("kubelet-timeout")))
    except ValueError:
        raise error("kubelet-timeout", f'invalid argument "{get("kubelet-timeout")}" for "--kubelet-timeout" '
                                       f'flag') from None
    port = number("kubelet-port")
    if port > 65535:
        raise error("kubelet-port", "--kubelet-port must be a port number")
    if bool(get("ssh-user")) != bool(get("ssh-keyfile")):
        raise error("ssh-user", "--ssh-user and --ssh-keyfile go together")
    kubelet = KubeletConfig(port=port, https=https,
                            client_certificate=get("kubelet-client-certificate"),
                            client_key=get("kubelet-client-key"),
                            certificate_authority=get("kubelet-certificate-authority"),
                            preferred_address_types=types, timeout=timeout)
    return NodeAccessConfig(kubelet=kubelet, ssh_user=get("ssh-user"), ssh_keyfile=get("ssh-keyfile"),
                            max_requests_inflight=number("max-requests-inflight"),
                            max_mutating_requests_inflight=number("max-mutating-requests-inflight"),
                            enable_priority_and_fairness=apf,
                            max_connection_bytes_per_sec=number("max-connection-bytes-per-sec"))
