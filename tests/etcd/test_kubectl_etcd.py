"""
kubectl against two kapiserver processes on one etcd sees one cluster: what
one applies the other lists, updates and deletes.
"""

from __future__ import annotations

import json

import pytest

from e2e.conftest import Kubectl, kubectl_binary

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
}


def test_kubectl_on_either_apiserver_sees_one_cluster(etcd, apiservers, tmp_path):
    """A Deployment applied through A is listed, scaled and deleted through B, and A sees each change."""
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed on this machine")
    (tmp_path / "ka").mkdir()
    (tmp_path / "kb").mkdir()
    a = Kubectl(binary, apiservers(etcd.urls, "a"), tmp_path / "ka")
    b = Kubectl(binary, apiservers(etcd.urls, "b"), tmp_path / "kb")
    a("apply", "-f", "-", input=json.dumps(DEPLOYMENT))
    listed = b.json("get", "deployments")
    assert [d["metadata"]["name"] for d in listed["items"]] == ["web"]
    b("scale", "deployment/web", "--replicas=5")
    assert a.json("get", "deployment", "web")["spec"]["replicas"] == 5
    b("delete", "deployment", "web")
    result = a("get", "deployment", "web", check=False)
    assert result.returncode != 0 and "NotFound" in result.stderr
