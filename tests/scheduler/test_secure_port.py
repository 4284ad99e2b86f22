"""kube-scheduler's secure port (kapiserver.healthserver): its flags, /healthz, /livez and /readyz over HTTPS with a
certificate generated in memory, other paths forbidden, and a port already in use only a warning.
`start_daemon` and `get` serve tests/controllermanager/test_secure_port.py too."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from twisted.python import usage
from twisted.web.test.requesthelper import DummyRequest

from kapiserver import healthserver
from kapiserver.scheduler.tap import Options
from tests.conformance.support import unique, wait_for
from tests.e2e.conftest import apiserver, free_port, stop_process  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent.parent


def parse(*args):
    options = Options()
    options.parseOptions(["--kubeconfig=k", *args])
    return options


def test_secure_serving_flags_and_defaults():
    """Upstream's defaults: port 10259 on 0.0.0.0, /healthz,/readyz,/livez always allowed; 0 turns it off."""
    options = parse()
    assert (options["secure-port"], options["bind-address"]) == (10259, "0.0.0.0")
    assert options["authorization-always-allow-paths"] == ["/healthz", "/readyz", "/livez"]
    assert parse("--secure-port=0", "--bind-address=::1")["secure-port"] == 0
    with pytest.raises(usage.UsageError, match='invalid argument "x" for "--secure-port" flag'):
        parse("--secure-port=x")
    with pytest.raises(usage.UsageError, match="--secure-port 70000 must be between 0 and 65535"):
        parse("--secure-port=70000")
    with pytest.raises(usage.UsageError, match='failed to parse IP: "nowhere"'):
        parse("--bind-address=nowhere")
    with pytest.raises(usage.UsageError, match="go together"):
        parse("--tls-cert-file=c.crt")
    with pytest.raises(usage.UsageError, match="only trailing"):
        parse("--authorization-always-allow-paths=/a*b")


def render(resource, path: bytes, method: bytes = b"GET"):
    request = DummyRequest(path.lstrip(b"/").split(b"/"))
    request.path, request.method = path, method
    body = resource.render(request)
    return request.responseCode or 200, request.responseHeaders.getRawHeaders(b"content-type")[0], body


def test_health_resource_answers():
    """The health paths answer "ok" to anyone; others are upstream's 403 to the anonymous user, an always-allowed
    path serving nothing a 404; --authorization-always-allow-paths decides (a trailing * a prefix)."""
    resource = healthserver.HealthResource()
    for path in (b"/healthz", b"/livez", b"/readyz"):
        assert render(resource, path) == (200, b"text/plain; charset=utf-8", b"ok")
    code, content_type, body = render(resource, b"/metrics", b"POST")
    assert (code, content_type) == (403, b"application/json")
    status = json.loads(body)
    assert status["message"] == 'forbidden: User "system:anonymous" cannot post path "/metrics"'
    assert (status["reason"], status["code"]) == ("Forbidden", 403)
    narrow = healthserver.HealthResource(["/healthz", "/debug/*"])
    assert render(narrow, b"/healthz")[0] == 200
    assert render(narrow, b"/readyz")[0] == 403
    assert render(narrow, b"/debug/pprof") == (404, b"text/plain; charset=utf-8", b"404 page not found\n")


def write_kubeconfig(path: Path, server: str) -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "k",
        "clusters": [{"name": "k", "cluster": {"server": server}}],
        "contexts": [{"name": "k", "context": {"cluster": "k", "user": "u"}}],
        "users": [{"name": "u", "user": {}}]}))
    return path


def start_daemon(plugin: str, apiserver, tmp_path: Path, *args):  # noqa: F811
    """`twistd -n PLUGIN --kubeconfig F ARGS` against the apiserver: (process, its log's path)."""
    kubeconfig = write_kubeconfig(tmp_path / f"{plugin}.kubeconfig", apiserver.url)
    log_path = tmp_path / f"{plugin}.log"
    with open(log_path, "wb") as log:
        twistd = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
        process = subprocess.Popen([*twistd, "-n", "--pidfile=", plugin, f"--kubeconfig={kubeconfig}", *args],
                                   cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    return process, log_path


def get(url: str):
    """(status, Content-Type, body) of a GET over HTTPS, the certificate not verified."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, context=context, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


def serves_healthz(plugin: str, apiserver, tmp_path: Path, verbose: dict, *args):  # noqa: F811
    """The daemon on a free --secure-port answers /healthz "ok" over HTTPS, its certificate generated in memory;
    each path of ``verbose`` comes to answer ``?verbose`` with that body (None: a 404, a path it does not serve);
    /metrics is forbidden."""
    port = free_port()
    process, log_path = start_daemon(plugin, apiserver, tmp_path, f"--secure-port={port}", *args)
    try:
        def healthy():
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                return get(f"https://127.0.0.1:{port}/healthz")
            except OSError:
                return None
        assert wait_for(healthy, timeout=60, what="/healthz") == (200, "text/plain; charset=utf-8", b"ok")
        for path, body in verbose.items():
            if body is None:
                assert get(f"https://127.0.0.1:{port}{path}") == (404, "text/plain; charset=utf-8",
                                                                  b"404 page not found\n")
                continue
            expected = (200, "text/plain; charset=utf-8", body.encode())
            answers: list = []

            def answered(path=path):
                answers.append(get(f"https://127.0.0.1:{port}{path}?verbose"))
                return answers[-1] == expected
            wait_for(answered, timeout=60, what=f"{path}?verbose: {body!r}; last {answers[-1:]}")
        code, _, body = get(f"https://127.0.0.1:{port}/metrics")
        assert code == 403 and json.loads(body)["reason"] == "Forbidden"
        text = log_path.read_text()
        assert "Generated self-signed cert in-memory" in text
        assert f"Serving securely on 0.0.0.0:{port}" in text
    finally:
        stop_process(process)


def survives_a_taken_port(plugin: str, apiserver, tmp_path: Path):  # noqa: F811
    """With --secure-port already in use the daemon logs one warning naming the port, and runs on: it takes its
    Lease."""
    lease = unique(plugin)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process, log_path = start_daemon(plugin, apiserver, tmp_path, f"--secure-port={port}",
                                         "--bind-address=127.0.0.1", f"--leader-elect-resource-name={lease}")
        try:
            def held():
                assert process.poll() is None, log_path.read_text()[-3000:]
                status, body = apiserver.request(
                    "GET", f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{lease}")
                return status == 200 and body["spec"].get("holderIdentity")
            wait_for(held, timeout=60, what=f"the {lease} Lease held")
            warnings = [line for line in log_path.read_text().splitlines()
                        if f"cannot serve HTTPS on port {port} " in line]
            assert len(warnings) == 1 and "#warn" in warnings[0], warnings
            assert process.poll() is None
        finally:
            stop_process(process)
    assert process.returncode in (0, -15), log_path.read_text()[-3000:]


def test_twistd_kube_scheduler_serves_healthz(apiserver, tmp_path):  # noqa: F811
    """Without leader election: ping on /healthz and /livez; /readyz ready once the informers have synced."""
    serves_healthz("kube-scheduler", apiserver, tmp_path, {
        "/healthz": "[+]ping ok\nhealthz check passed\n",
        "/livez": "[+]ping ok\nlivez check passed\n",
        "/readyz": "[+]shutdown ok\n[+]sched-handler-sync ok\nreadyz check passed\n"}, "--leader-elect=false")


def test_twistd_kube_scheduler_lists_its_checks(apiserver, tmp_path):  # noqa: F811
    """With leader election (a Lease of its own): leaderElection on /healthz and /readyz, ready once leading and
    synced; a check's own path answers where --authorization-always-allow-paths lets it."""
    serves_healthz("kube-scheduler", apiserver, tmp_path, {
        "/healthz": "[+]leaderElection ok\nhealthz check passed\n",
        "/readyz": "[+]leaderElection ok\n[+]shutdown ok\n[+]sched-handler-sync ok\nreadyz check passed\n",
        "/healthz/leaderElection": "ok", "/readyz/sched-handler-sync": "ok"},
        f"--leader-elect-resource-name={unique('kube-scheduler')}",
        "--authorization-always-allow-paths=/healthz,/healthz/*,/readyz,/readyz/*,/livez")


def test_twistd_kube_scheduler_survives_a_taken_port(apiserver, tmp_path):  # noqa: F811
    survives_a_taken_port("kube-scheduler", apiserver, tmp_path)


def test_a_cert_dir_keeps_one_certificate(tmp_path):
    """With --cert-dir the certificate is made there once (kube-scheduler.crt carrying its CA, and .key) and read
    back on the next start, as kube-node keeps its own."""
    from kapiserver.healthserver import serving_tls_options
    options = parse(f"--cert-dir={tmp_path}")
    serving_tls_options(options, "kube-scheduler")
    cert, key = tmp_path / "kube-scheduler.crt", tmp_path / "kube-scheduler.key"
    first = cert.read_bytes()
    assert first.count(b"BEGIN CERTIFICATE") == 2 and key.exists()
    serving_tls_options(options, "kube-scheduler")
    assert cert.read_bytes() == first
