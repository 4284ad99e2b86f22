"""The nginx stand-in's pages are where the image keeps them: a file written into /usr/share/nginx/html by a
command run in the container (kubectl exec, as kr8s's nginx fixtures do) is served.  A real container process
on the global reactor (turned by hand); needs root and unshare for the pod's mount namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request

import pytest
from twisted.internet import reactor
from twisted.internet.process import reapAllProcesses

from kapiserver.node import images, runner
from kapiserver.node.runner import PodWorker
from tests.controllers.conftest import run_until
from tests.e2e.conftest import free_port


def test_document_root_only_for_the_stand_in():
    assert images.document_root({"name": "c", "image": "nginx:1.27"}) == "/usr/share/nginx/html"
    assert images.document_root({"name": "c", "image": "docker.io/library/httpd"}) == "/usr/local/apache2/htdocs"
    assert images.document_root({"name": "c", "image": "nginx", "command": ["sleep", "1"]}) is None
    assert images.document_root({"name": "c", "image": "nginx", "args": ["x"]}) is None
    assert images.document_root({"name": "c", "image": "busybox"}) is None


def test_a_volume_at_the_document_root_wins(tmp_path, monkeypatch):
    """A volumeMount the pod puts at /usr/share/nginx/html (a configMap of pages) is not covered by ours."""
    monkeypatch.setattr(runner, "can_mount", lambda: True)
    spec = {"name": "c", "image": "nginx", "volumeMounts": [{"name": "pages", "mountPath": "/usr/share/nginx/html/"}]}
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u"},
           "spec": {"containers": [spec], "volumes": [{"name": "pages", "configMap": {"name": "x"}}]}}
    worker = PodWorker(reactor, pod, str(tmp_path / "pod"), lambda w: None, {"PATH": "/usr/bin:/bin"})
    mounts = worker.mounts_for(spec)
    worker.remove_created_dirs()
    assert [target for _source, target, _ro in mounts] == ["/usr/share/nginx/html/"]


@pytest.mark.skipif(not runner.can_mount() or shutil.which("nsenter") is None,
                    reason="a pod's mount namespace needs root, unshare and nsenter")
def test_a_file_written_to_the_document_root_in_the_container_is_served(tmp_path):
    port = free_port()
    spec = {"name": "web", "image": "nginx:latest", "ports": [{"containerPort": port}]}
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u-docroot"},
           "spec": {"containers": [spec], "terminationGracePeriodSeconds": 1}}
    worker = PodWorker(reactor, pod, str(tmp_path / "pod"), lambda w: None, {"PATH": "/usr/bin:/bin"})
    worker.start()
    container = worker.containers[0]
    try:

        def fetch(path):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=2) as response:
                    return response.read()
            except OSError:
                return None
        # Serving: the mounts are in place (the server starts after them).
        run_until(lambda: fetch(""), timeout=20, also=reapAllProcesses)
        pid = worker.namespace_pid(container)
        assert pid is not None
        # What `kubectl exec` runs for a container with its own mount namespace (kapiserver.node.execution).
        subprocess.run(["nsenter", f"--target={pid}", "--mount", "--", "sh", "-c",
                        "echo served > /usr/share/nginx/html/foo.dat"], check=True, timeout=30, capture_output=True)
        assert (tmp_path / "pod" / "images" / "web" / "html" / "foo.dat").read_text() == "served\n"
        assert not os.path.exists("/usr/share/nginx/html/foo.dat")     # not the host's directory
        assert fetch("foo.dat") == b"served\n"
    finally:
        stopped = worker.kill(0)
        run_until(lambda: stopped.called, timeout=20, also=reapAllProcesses)
        worker.remove_created_dirs()
