"""--admission-control-config-file: reading the AdmissionConfiguration and each plugin's part of it."""

from __future__ import annotations

import json

import pytest
from twisted.python import usage

from kapiserver.admission.config import AdmissionConfigError, load_admission_config
from kapiserver.admission.options import validate_flags
from kapiserver.admission.plugins import check_plugin_configs
from kapiserver.tap import Options

QUOTA = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "ResourceQuotaConfiguration",
         "limitedResources": [{"resource": "pods", "matchContains": ["cpu"]}]}


def write(path, document) -> str:
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def admission(*plugins, api_version="apiserver.config.k8s.io/v1") -> dict:
    return {"apiVersion": api_version, "kind": "AdmissionConfiguration", "plugins": list(plugins)}


def test_embedded_configuration_is_returned_by_plugin_name(tmp_path):
    """A plugin's embedded configuration comes back as the dict it is, keyed by the plugin's name."""
    path = write(tmp_path / "ac.json", admission({"name": "ResourceQuota", "configuration": QUOTA}))
    assert load_admission_config(path) == {"ResourceQuota": QUOTA}


def test_path_is_relative_to_the_configuration_file(tmp_path, monkeypatch):
    """A relative path is read from the AdmissionConfiguration's directory, not the working directory."""
    (tmp_path / "conf").mkdir()
    write(tmp_path / "conf" / "quota.yaml", "apiVersion: apiserver.config.k8s.io/v1\n"
                                            "kind: ResourceQuotaConfiguration\nlimitedResources: []\n")
    path = write(tmp_path / "conf" / "ac.yaml", "apiVersion: apiserver.config.k8s.io/v1\n"
                                                "kind: AdmissionConfiguration\n"
                                                "plugins:\n- name: ResourceQuota\n  path: quota.yaml\n")
    monkeypatch.chdir(tmp_path)
    assert load_admission_config(path)["ResourceQuota"]["kind"] == "ResourceQuotaConfiguration"


def test_embedded_configuration_wins_over_path(tmp_path):
    """With both, the embedded configuration is used and the path is never read."""
    path = write(tmp_path / "ac.json", admission({"name": "ResourceQuota", "path": "missing.yaml",
                                                  "configuration": QUOTA}))
    assert load_admission_config(path) == {"ResourceQuota": QUOTA}


def test_plugins_not_enabled_are_ignored(tmp_path):
    """A plugin named in the file but not enabled is left out, and its path (even missing) is not read."""
    path = write(tmp_path / "ac.json", admission({"name": "EventRateLimit", "path": "missing.yaml"},
                                                 {"name": "ResourceQuota", "configuration": QUOTA}))
    assert load_admission_config(path, enabled=["ResourceQuota"]) == {"ResourceQuota": QUOTA}


def test_legacy_apiversion_is_accepted(tmp_path):
    """The legacy apiserver.k8s.io/v1alpha1 AdmissionConfiguration still reads."""
    path = write(tmp_path / "ac.json", admission({"name": "ResourceQuota", "configuration": QUOTA},
                                                 api_version="apiserver.k8s.io/v1alpha1"))
    assert load_admission_config(path) == {"ResourceQuota": QUOTA}


def test_legacy_podnodeselector_file_is_its_configuration(tmp_path):
    """An old unversioned PodNodeSelector file is taken whole as that plugin's configuration."""
    document = {"podNodeSelectorPluginConfig": {"clusterDefaultNodeSelector": "env=prod"}}
    path = write(tmp_path / "pns.json", document)
    assert load_admission_config(path, enabled=["PodNodeSelector"]) == {"PodNodeSelector": document}


@pytest.mark.parametrize("document, message", [
    ({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "Nope"},
     'failed to read plugin config: no kind "Nope" is registered for version "apiserver.config.k8s.io/v1" in '
     'scheme "k8s.io/apiserver/pkg/server/options/admission.go:48"'),
    ({"apiVersion": "apiserver.config.k8s.io/v1alpha1", "kind": "AdmissionConfiguration"},
     'failed to read plugin config: no kind "AdmissionConfiguration" is registered for version '
     '"apiserver.config.k8s.io/v1alpha1"'),
    ({"plugins": []}, "failed to read plugin config: Object 'Kind' is missing in '{\"plugins\":[]}'"),
    ({"kind": "AdmissionConfiguration"}, "failed to read plugin config: Object 'apiVersion' is missing in"),
    ({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration"},
     "failed to read plugin config: unexpected type: *apiserver.EncryptionConfiguration"),
    ("plugins: [unclosed", "failed to read plugin config: error converting YAML to JSON: yaml: "),
])
def test_unusable_files_are_refused_with_upstreams_words(tmp_path, document, message):
    """Unknown kinds or versions, missing type meta and bad YAML each fail with decoding's message."""
    path = write(tmp_path / "ac.yaml", document)
    with pytest.raises(AdmissionConfigError) as info:
        load_admission_config(path)
    assert str(info.value).startswith(message)


def test_unreadable_file_and_plugin_path(tmp_path):
    """A missing file, or a missing plugin path, says which file could not be opened."""
    with pytest.raises(AdmissionConfigError) as info:
        load_admission_config(str(tmp_path / "none.yaml"))
    assert str(info.value) == (f'failed to read plugin config: unable to read admission control configuration '
                               f'from "{tmp_path / "none.yaml"}" [open {tmp_path / "none.yaml"}: no such file or '
                               f'directory]')
    path = write(tmp_path / "ac.json", admission({"name": "ResourceQuota", "path": "gone.yaml"}))
    with pytest.raises(AdmissionConfigError) as info:
        load_admission_config(path)
    assert str(info.value).startswith(f"Couldn't open admission plugin configuration {tmp_path / 'gone.yaml'}")


def test_plugin_configuration_errors_name_the_plugin(tmp_path):
    """A plugin whose configuration does not parse fails its init, named as upstream names it."""
    bad = dict(QUOTA, limitedResources=[{"matchContains": ["cpu"]}])
    path = write(tmp_path / "ac.json", admission({"name": "ResourceQuota", "configuration": bad}))
    with pytest.raises(AdmissionConfigError) as info:
        check_plugin_configs(load_admission_config(path), ["ResourceQuota"])
    assert str(info.value) == ('couldn\'t init admission plugin "ResourceQuota": '
                               'limitedResources[0].resource: Required value')


def test_eventratelimit_needs_a_configuration():
    """Enabling EventRateLimit without a configuration is an error, as upstream."""
    with pytest.raises(AdmissionConfigError) as info:
        validate_flags("", enable=["EventRateLimit"])
    assert "limits: Invalid value: []eventratelimit.Limit(nil): must not be empty" in str(info.value)


def test_bad_file_is_a_usage_error_naming_the_problem(tmp_path):
    """twistd's option parsing refuses a bad file with its one-line message, before anything starts."""
    path = write(tmp_path / "ac.json", {"apiVersion": "v1", "kind": "Nope"})
    with pytest.raises(usage.UsageError) as info:
        Options().parseOptions([f"--admission-control-config-file={path}"])
    assert str(info.value).startswith('failed to read plugin config: no kind "Nope" is registered')
