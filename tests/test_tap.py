"""The command line: flag parsing, validation, version output, advertise-address defaulting, request logging."""
import dataclasses
import ipaddress
import signal
import subprocess
import sys
import types

import pytest
from twisted.logger import globalLogPublisher
from twisted.python import usage

from kapiserver import logs, tap, version
from kapiserver.config import ServerConfig, default_advertise_address
from kapiserver.flags import OptionError, parse_duration
from kapiserver.hostaddress import choose_host_address, default_route_interfaces

HOST = ipaddress.ip_address("192.0.2.10")


def parse(*args, host=HOST):
    """Parse `args` with a fixed host address, so results do not depend on this machine's network."""
    options = tap.Options()
    options.choose_host = lambda: host
    options.parseOptions(list(args))
    return options.server_config


def usage_error(*args):
    """The message of the UsageError that parsing `args` raises."""
    with pytest.raises(usage.UsageError) as info:
        parse(*args)
    return str(info.value)


# --- defaults and flag syntax -----------------------------------------------------------------------

def test_defaults_match_the_config_defaults():
    """With no flags, every option has the same value as ServerConfig's own defaults."""
    config = parse()
    assert dataclasses.replace(config, advertise_address=None) == ServerConfig()


def test_default_values_are_upstreams():
    """The defaults are kube-apiserver's where upstream has one (3 MiB bodies, 1h events, 5m compaction)."""
    config = parse()
    assert config.insecure_bind_address == "127.0.0.1" and config.insecure_port == 8080
    assert config.bind_address == "0.0.0.0" and config.secure_port == 6443
    assert config.storage_backend == "sqlite" and config.data_dir == "./kapiserver-data"
    assert config.etcd_servers == () and config.etcd_prefix == "/registry"
    assert config.service_cluster_ip_range == ipaddress.ip_network("10.0.0.0/24")
    assert config.service_node_port_range == (30000, 32767)
    assert config.event_ttl == 3600 and config.etcd_compaction_interval == 300
    assert config.max_request_bytes == 3145728
    assert config.request_timeout == 60 and config.min_request_timeout == 1800
    assert config.delete_collection_workers == 1 and config.default_watch_cache_size == 100
    assert config.watch_cache is True and dict(config.watch_cache_sizes) == {}
    assert dict(config.runtime_config) == {} and config.master_service_namespace == "default"
    assert config.verbosity == 0 and config.kubernetes_service_node_port == 0


@pytest.mark.parametrize("args", [
    ["--insecure-port=9000"], ["--insecure-port", "9000"],
])
def test_value_in_either_form(args):
    """A value may follow its flag after "=" or as the next argument."""
    assert parse(*args).insecure_port == 9000


@pytest.mark.parametrize("args", [["-v", "3"], ["-v=3"], ["-v3"], ["--v=3"], ["--v", "3"]])
def test_verbosity_spellings(args):
    """-v takes its level in every spelling pflag accepts."""
    assert parse(*args).verbosity == 3


def test_boolean_flag_alone_means_true():
    """A bare --watch-cache means true, and --watch-cache=false turns the cache off."""
    assert parse("--watch-cache").watch_cache is True
    assert parse("--watch-cache=false").watch_cache is False
    assert parse("--watch-cache", "--insecure-port", "1").insecure_port == 1


def test_repeated_list_flags_accumulate():
    """Repeating --etcd-servers, --watch-cache-sizes or --runtime-config adds to the earlier values."""
    config = parse("--etcd-servers", "http://a:2379", "--etcd-servers=https://b:2379",
                   "--watch-cache-sizes=pods#10", "--watch-cache-sizes", "deployments.apps#5",
                   "--runtime-config=api/all=false", "--runtime-config", "batch/v1=true")
    assert config.etcd_servers == ("http://a:2379", "https://b:2379")
    assert dict(config.watch_cache_sizes) == {"pods": 10, "deployments.apps": 5}
    assert dict(config.runtime_config) == {"api/all": False, "batch/v1": True}


def test_list_and_map_values():
    """Comma-separated lists and maps parse into tuples and dicts; a bare runtime-config key means true."""
    config = parse("--watch-cache-sizes=pods#1000,deployments.apps#500",
                   "--runtime-config=api/all=true,batch/v2alpha1=false,apps/v1")
    assert dict(config.watch_cache_sizes) == {"pods": 1000, "deployments.apps": 500}
    assert dict(config.runtime_config) == {"api/all": True, "batch/v2alpha1": False, "apps/v1": True}


def test_unknown_flag_and_abbreviation_rejected():
    """An unknown flag is named in the error, and a prefix of a real flag is not accepted as it."""
    assert usage_error("--bogus") == "unknown flag: --bogus"
    assert usage_error("--insecure-p=1") == "unknown flag: --insecure-p"
    assert usage_error("-x") == "unknown shorthand flag: 'x' in -x"


def test_missing_value_and_positional_arguments():
    """A flag at the end with no value, and any positional argument, are usage errors."""
    assert usage_error("--insecure-port") == "flag needs an argument: --insecure-port"
    assert "does not take any arguments" in usage_error("serve")


# --- validation -------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, flag", [
    (["--insecure-port=abc"], "--insecure-port"),
    (["--insecure-port=-1"], "--insecure-port"),
    (["--insecure-port=65536"], "--insecure-port"),
    (["--secure-port=-5"], "--secure-port"),
    (["--insecure-bind-address=localhost"], "--insecure-bind-address"),
    (["--bind-address=1.2.3"], "--bind-address"),
    (["--advertise-address=nope"], "--advertise-address"),
    (["--service-cluster-ip-range=10.0.0.0/33"], "--service-cluster-ip-range"),
    (["--service-cluster-ip-range=banana"], "--service-cluster-ip-range"),
    (["--service-cluster-ip-range=10.0.0.0/8"], "--service-cluster-ip-range"),
    (["--service-cluster-ip-range=fd00::/64"], "--service-cluster-ip-range"),
    (["--service-cluster-ip-range=10.0.0.0/24,fd00::/108"], "--service-cluster-ip-range"),
    (["--service-node-port-range=32767-30000"], "--service-node-port-range"),
    (["--service-node-port-range=abc"], "--service-node-port-range"),
    (["--service-node-port-range=1-70000"], "--service-node-port-range"),
    (["--kubernetes-service-node-port=80"], "--kubernetes-service-node-port"),
    (["--kubernetes-service-node-port=-1"], "--kubernetes-service-node-port"),
    (["--event-ttl=1x"], "--event-ttl"),
    (["--event-ttl=60"], "--event-ttl"),
    (["--event-ttl=0s"], "--event-ttl"),
    (["--request-timeout=-1s"], "--request-timeout"),
    (["--etcd-compaction-interval=-5m"], "--etcd-compaction-interval"),
    (["--min-request-timeout=-1"], "--min-request-timeout"),
    (["--max-request-bytes=-1"], "--max-request-bytes"),
    (["--max-request-bytes=3MiB"], "--max-request-bytes"),
    (["--delete-collection-workers=0"], "--delete-collection-workers"),
    (["--default-watch-cache-size=-1"], "--default-watch-cache-size"),
    (["--watch-cache-sizes=pods"], "--watch-cache-sizes"),
    (["--watch-cache-sizes=pods#lots"], "--watch-cache-sizes"),
    (["--watch-cache-sizes=pods#-1"], "--watch-cache-sizes"),
    (["--watch-cache=maybe"], "--watch-cache"),
    (["--runtime-config=api/all=sometimes"], "--runtime-config"),
    (["--master-service-namespace=Not_A_Namespace"], "--master-service-namespace"),
    (["--storage-backend=etcd2"], "--storage-backend"),
    (["--storage-backend=etcd3"], "--storage-backend"),
    (["--storage-backend=sqlite", "--etcd-servers=http://e:2379"], "--etcd-servers"),
    (["--etcd-servers=e:2379"], "--etcd-servers"),
    (["-v=-1"], "--v"),
    (["--workers=-1"], "--workers"),
    (["--workers=two"], "--workers"),
    (["--workers=2", "--etcd-servers=http://e:2379"], "--workers"),
    (["--workers=2", "--enable-store-reset"], "--enable-store-reset"),
    (["--workers=2", "--enable-fault-injection"], "--enable-fault-injection"),
    (["--workers=2", "--secure-port=0", "--insecure-port=0"], "--workers"),
])
def test_invalid_values_name_their_flag(args, flag):
    """Every unusable value is a UsageError whose message names the flag it came from."""
    assert flag in usage_error(*args)


def test_secure_port_is_accepted():
    """--secure-port takes any port; 0 turns the secure listener off."""
    assert parse("--secure-port=7443").secure_port == 7443
    assert parse("--secure-port=0").secure_port == 0


def test_cidr_host_bits_masked_and_ipv6_accepted():
    """A CIDR with host bits set means its network, as Go's ParseCIDR has it; a /108 IPv6 range is fine."""
    assert parse("--service-cluster-ip-range=10.96.0.1/12").service_cluster_ip_range == \
        ipaddress.ip_network("10.96.0.0/12")
    assert parse("--service-cluster-ip-range=fd00::/108").service_cluster_ip_range.version == 6


def test_node_port_range_forms():
    """The node port range takes low-high, base+size and a single port."""
    assert parse("--service-node-port-range=1000-2000").service_node_port_range == (1000, 2000)
    assert parse("--service-node-port-range=1000+100").service_node_port_range == (1000, 1100)
    assert parse("--service-node-port-range=1234").service_node_port_range == (1234, 1234)
    assert parse("--kubernetes-service-node-port=30443").kubernetes_service_node_port == 30443


def test_etcd_servers_select_etcd3():
    """--etcd-servers alone selects the etcd3 backend; an explicit --storage-backend=etcd3 agrees."""
    assert parse("--etcd-servers=http://127.0.0.1:2379").storage_backend == "etcd3"
    config = parse("--storage-backend=etcd3", "--etcd-servers=https://e1:2379,unix:///run/etcd.sock")
    assert config.storage_backend == "etcd3"
    assert config.etcd_servers == ("https://e1:2379", "unix:///run/etcd.sock")


def test_durations_accept_go_syntax():
    """Duration flags take Go durations and are kept as seconds."""
    config = parse("--event-ttl=1h30m", "--request-timeout=300ms", "--etcd-compaction-interval=0")
    assert (config.event_ttl, config.request_timeout, config.etcd_compaction_interval) == (5400, 0.3, 0)


@pytest.mark.parametrize("text, seconds", [
    ("1h0m0s", 3600), ("5m", 300), ("300ms", 0.3), ("1.5h", 5400), ("-2s", -2), ("+3s", 3), ("0", 0),
    (".5s", 0.5), ("1h1m1s1ms", 3661.001), ("10us", 1e-5), ("10\u00b5s", 1e-5), ("7ns", 7e-9),
])
def test_parse_duration(text, seconds):
    """parse_duration reads what Go's time.ParseDuration reads."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text, message", [
    ("", 'time: invalid duration ""'), ("5", 'time: missing unit in duration "5"'),
    ("5x", 'time: unknown unit "x" in duration "5x"'), (".s", 'time: invalid duration ".s"'),
    ("h", 'time: invalid duration "h"'), ("-", 'time: invalid duration "-"'),
])
def test_parse_duration_rejects_what_go_rejects(text, message):
    """parse_duration refuses what Go refuses, with Go's message."""
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == message


def test_config_is_frozen():
    """A ServerConfig cannot be changed after it is built, maps included."""
    config = parse("--watch-cache-sizes=pods#1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.insecure_port = 1
    with pytest.raises(TypeError):
        config.watch_cache_sizes["pods"] = 2


def test_from_options_accepts_any_mapping():
    """from_options takes a plain dict of flag names, typed values or strings, and names bad flags."""
    config = ServerConfig.from_options({"insecure-port": 0, "v": "2", "advertise-address": "10.1.2.3"})
    assert (config.insecure_port, config.verbosity) == (0, 2)
    assert config.advertise_address == ipaddress.ip_address("10.1.2.3")
    with pytest.raises(OptionError) as info:
        ServerConfig.from_options({"event-ttl": "soon"})
    assert info.value.flag == "event-ttl"


# --- --version --------------------------------------------------------------------------------------

def test_version_flag_prints_kubernetes_version(capsys):
    """--version prints "Kubernetes v1.32.4" and exits 0, before any other validation."""
    with pytest.raises(SystemExit) as info:
        tap.Options().parseOptions(["--insecure-port=bad", "--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == "Kubernetes v1.32.4\n"


def test_version_raw_and_false(capsys):
    """--version=raw prints the Go-shaped version.Info; --version=false does nothing."""
    with pytest.raises(SystemExit):
        tap.Options().parseOptions(["--version=raw"])
    assert capsys.readouterr().out.startswith('version.Info{Major:"1", Minor:"32", GitVersion:"v1.32.4",')
    assert parse("--version=false").insecure_port == 8080


def test_version_info_shape():
    """/version's document has upstream 1.32's nine fields, in its order, with Go platform names."""
    assert list(version.VERSION_INFO) == ["major", "minor", "gitVersion", "gitCommit", "gitTreeState",
                                          "buildDate", "goVersion", "compiler", "platform"]
    info = version.VERSION_INFO
    assert (info["major"], info["minor"], info["gitVersion"]) == ("1", "32", "v1.32.4")
    assert len(info["gitCommit"]) == 40 and int(info["gitCommit"], 16) >= 0
    assert info["goVersion"].startswith("go1.23") and info["compiler"] == "gc"
    assert version.go_platform("Linux", "x86_64") == "linux/amd64"
    assert version.go_platform("Darwin", "arm64") == "darwin/arm64"
    assert version.go_platform("Linux", "aarch64") == "linux/arm64"


# --- the command and twistd's entry point -----------------------------------------------------------

def run_module(*args):
    """Run `python -m kapiserver` with `args`, returning the finished process."""
    return subprocess.run([sys.executable, "-m", "kapiserver", *args], capture_output=True, text=True,
                          timeout=30)


def test_module_unknown_flag_exits_2_with_one_line():
    """`python -m kapiserver --bogus` prints one error line naming the flag and exits with status 2."""
    result = run_module("--bogus")
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["Error: unknown flag: --bogus"]
    assert result.stdout == ""


def test_module_invalid_value_exits_2():
    """An invalid value on `python -m kapiserver` is one line naming the flag, status 2."""
    result = run_module("--service-cluster-ip-range", "10.0.0.0/99")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "--service-cluster-ip-range" in line


def test_make_service_hands_config_to_server(monkeypatch):
    """makeService builds the ServerConfig, sets the log verbosity and returns server.make_service's service."""
    calls = []
    fake = types.ModuleType("kapiserver.server")
    fake.make_service = lambda config, reactor, worker_flags: \
        calls.append((config, reactor, worker_flags)) or "the service"
    monkeypatch.setitem(sys.modules, "kapiserver.server", fake)
    monkeypatch.setattr(logs, "_verbosity", 0)
    options = tap.Options()
    options.parseOptions(["-v", "2", "--insecure-port=0"])
    reactor = object()
    assert tap.makeService(options, reactor) == "the service"
    [(config, given_reactor, worker_flags)] = calls
    assert config is options.server_config and given_reactor is reactor and worker_flags == ()
    assert config.insecure_port == 0 and logs.verbosity() == 2


# --- advertise address ------------------------------------------------------------------------------

def test_explicit_advertise_address_wins():
    """An explicit --advertise-address is used as given; 0.0.0.0 counts as unset."""
    assert parse("--advertise-address=10.9.8.7").advertise_address == ipaddress.ip_address("10.9.8.7")
    assert parse("--advertise-address=0.0.0.0").advertise_address == HOST


def test_advertise_defaults_to_usable_bind_address():
    """With no advertise address, a specified non-loopback bind address is advertised."""
    bind = ipaddress.ip_address("10.1.1.1")
    assert default_advertise_address(None, bind, lambda: HOST) == (bind, False)
    assert parse("--bind-address=10.1.1.1").advertise_address == bind
    # With the secure port off, the insecure listener's address is the one that serves.
    assert parse("--secure-port=0", "--insecure-bind-address=10.1.1.1").advertise_address == bind


def test_advertise_uses_host_interface_for_loopback_or_unspecified_bind():
    """A loopback or unspecified bind address sends the choice to the host's default interface."""
    for bind in ("127.0.0.1", "0.0.0.0", "::"):
        assert default_advertise_address(None, ipaddress.ip_address(bind), lambda: HOST) == (HOST, False)


def test_advertise_falls_back_to_loopback_without_a_host_address():
    """When the host has no default-route address, 127.0.0.1 is advertised and the fallback is flagged."""
    config = parse(host=None)
    assert config.advertise_address == ipaddress.ip_address("127.0.0.1")
    assert config.advertise_address_is_fallback is True


IPV4_ROUTES = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
"""
IPV6_ROUTES = (
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n")
IPV6_ADDRESSES = ("fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n"
                  "fd000000000000000000000000000002 04 40 00 82     eth0\n")


def route_files(tmp_path, ipv4=IPV4_ROUTES, ipv6=IPV6_ROUTES, addresses=IPV6_ADDRESSES):
    """Write fake /proc route and address tables; return choose_host_address's file arguments."""
    paths = {}
    for name, text in (("ipv4_route_file", ipv4), ("ipv6_route_file", ipv6), ("ipv6_address_file", addresses)):
        path = tmp_path / name
        path.write_text(text)
        paths[name] = str(path)
    return paths


def test_default_routes_read_from_proc_tables():
    """Only default routes count; the IPv6 ::/0 route without a gateway (the kernel's, on lo) is ignored."""
    routes = default_route_interfaces(IPV4_ROUTES.splitlines(), IPV6_ROUTES.splitlines())
    assert routes == [(4, "wlan0"), (4, "eth0"), (6, "eth0")]


def test_host_address_from_first_up_default_route_interface(tmp_path):
    """The first up interface with a default route and a global address provides the host address."""
    addresses = {"wlan0": [ipaddress.ip_address("192.168.1.20")], "eth0": [ipaddress.ip_address("192.0.2.2")]}
    chosen = choose_host_address(**route_files(tmp_path), interface_is_up=lambda name: name != "wlan0",
                                 interface_ipv4=lambda name: addresses[name])
    assert chosen == ipaddress.ip_address("192.0.2.2")


def test_host_address_falls_to_ipv6_skipping_link_local(tmp_path):
    """Without an IPv4 address on a default-route interface, its global IPv6 address is chosen, not fe80::."""
    chosen = choose_host_address(**route_files(tmp_path), interface_is_up=lambda name: True,
                                 interface_ipv4=lambda name: [ipaddress.ip_address("169.254.0.5")])
    assert chosen == ipaddress.ip_address("fd00::2")


def test_no_default_route_means_no_host_address(tmp_path):
    """A host with no default route (offline) yields None, at once."""
    files = route_files(tmp_path, ipv4=IPV4_ROUTES.splitlines()[0] + "\n", ipv6="")
    assert choose_host_address(**files, interface_is_up=lambda name: True,
                               interface_ipv4=lambda name: [HOST]) is None


# --- request logging --------------------------------------------------------------------------------

@pytest.fixture
def captured_events(monkeypatch):
    """The log events published while a test runs."""
    events = []
    globalLogPublisher.addObserver(events.append)
    monkeypatch.setattr(logs, "_verbosity", 0)
    yield events
    globalLogPublisher.removeObserver(events.append)


def test_request_log_only_from_verbosity_2(captured_events):
    """log_request emits one line per request at -v 2 and above, and nothing below."""
    logs.set_verbosity(1)
    logs.log_request("GET", "/api/v1/pods", 200, 0.0012)
    assert [e for e in captured_events if e.get("log_namespace") == "kapiserver.httplog"] == []
    logs.set_verbosity(2)
    logs.log_request("GET", '/api/v1/namespaces/{x}/pods?labelSelector="a"', 404, 0.0012)
    [event] = [e for e in captured_events if e.get("log_namespace") == "kapiserver.httplog"]
    assert event["line"] == ('HTTP verb="GET" URI="/api/v1/namespaces/{x}/pods?labelSelector=\\"a\\"" '
                             'latency="1.2ms" resp=404')
    assert (event["verb"], event["code"]) == ("GET", 404)
    logs.log_request(b"PUT", "/api/v1/pods/caf\u00e9".encode(), 200, 0.0012)     # as the API root gives them
    assert [e["line"] for e in captured_events if e.get("log_namespace") == "kapiserver.httplog"][-1] == \
        'HTTP verb="PUT" URI="/api/v1/pods/caf\u00e9" latency="1.2ms" resp=200'


def test_latency_formatted_like_go():
    """Latencies print as Go prints durations."""
    assert [logs.format_latency(s) for s in (0, 0.000812, 0.0032, 1.5, 2)] == \
        ["0s", "812\u00b5s", "3.2ms", "1.5s", "2s"]


# A stand-in for kapiserver.server, so the foreground command is tested on its own.
FOREGROUND_SCRIPT = """
import sys, types
from twisted.application.service import MultiService, Service

class Probe(Service):
    def startService(self):
        if "--fail" in sys.argv:
            raise OSError("address already in use")
        Service.startService(self)
        print("started", flush=True)

    def stopService(self):
        print("stopped", flush=True)
        return Service.stopService(self)

def make_service(config, reactor, worker_flags=()):
    root = MultiService()
    Probe().setServiceParent(root)
    return root

server = types.ModuleType("kapiserver.server")
server.make_service = make_service
sys.modules["kapiserver.server"] = server
from kapiserver.__main__ import main
sys.exit(main([arg for arg in sys.argv[1:] if arg != "--fail"]))
"""


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_foreground_server_stops_cleanly_on_signal(signal_number):
    """`python -m kapiserver` runs the service until SIGTERM or SIGINT, then stops it and exits 0."""
    process = subprocess.Popen([sys.executable, "-c", FOREGROUND_SCRIPT, "--insecure-port=0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == "started\n"
        process.send_signal(signal_number)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert out == "stopped\n"


def test_foreground_server_exits_1_when_it_cannot_start():
    """A service that fails to start is logged to stderr and the command exits 1."""
    result = subprocess.run([sys.executable, "-c", FOREGROUND_SCRIPT, "--fail"], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 1
    assert "address already in use" in result.stderr


def test_workers_are_started_with_every_flag_but_their_own():
    """A --workers worker gets every flag of its primary (so it serves what the primary would), spelled
    --name=value, lists joined as pflag reads them, and never --workers (it is one worker) or --version."""
    options = tap.Options()
    options.choose_host = lambda: HOST
    options.parseOptions(["--workers", "2", "--secure-port=0", "--runtime-config=api/alpha=true",
                          "--runtime-config=batch/v1=false", "-v", "2", "--watch-cache=false"])
    flags = tap.worker_flags(options)
    assert "--secure-port=0" in flags and "--v=2" in flags and "--watch-cache=false" in flags
    assert "--runtime-config=api/alpha=true,batch/v1=false" in flags
    assert not [flag for flag in flags if flag.startswith(("--workers", "--worker-of", "--version"))]
    worker = tap.Options()
    worker.choose_host = lambda: HOST
    worker.parseOptions([*flags, "--worker-of=/tmp/store.sock"])
    config, primary = worker.server_config, options.server_config
    assert (config.workers, config.worker_of) == (0, "/tmp/store.sock")
    assert (primary.workers, primary.worker_of) == (2, None)
    assert dataclasses.replace(config, worker_of=None, workers=2) == primary
