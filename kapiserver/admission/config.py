"""
--admission-control-config-file: an AdmissionConfiguration naming, per plugin,
its configuration embedded (``configuration``) or in a file of its own
(``path``, relative to the AdmissionConfiguration's directory).

``load_admission_config`` reads it into {plugin name: configuration dict};
kapiserver.admission.plugins has every enabled plugin parse its part, so a bad
file stops startup with one line, worded as upstream's errors.  This module
reads documents and imports no plugin: the plugins import it.
"""

from __future__ import annotations

import os
from typing import Iterable, Optional

import yaml

from ..machinery import codec

# The (apiVersion, kind) pairs upstream's admission config scheme decodes as an AdmissionConfiguration.
ADMISSION_CONFIGURATION = {("apiserver.config.k8s.io/v1", "AdmissionConfiguration"),
                           ("apiserver.k8s.io/v1alpha1", "AdmissionConfiguration")}
# Other kinds registered in the same scheme: decodable, but not an AdmissionConfiguration.
_OTHER_KINDS = {("apiserver.config.k8s.io/v1", "EncryptionConfiguration"),
                ("apiserver.config.k8s.io/v1", "TracingConfiguration"),
                ("apiserver.k8s.io/v1alpha1", "EgressSelectorConfiguration"),
                ("apiserver.config.k8s.io/v1alpha1", "TracingConfiguration")}
# Old files that were one plugin's unversioned configuration: upstream still reads them for these plugins.
_LEGACY_KEYS = {"podNodeSelectorPluginConfig": "PodNodeSelector"}


class AdmissionConfigError(ValueError):
    """The admission configuration (or one plugin's part of it) cannot be used; the message says why."""


def _go_open_error(path: str, error: OSError) -> str:
    # Go's os.PathError wording: "open <path>: no such file or directory".
    reason = (error.strerror or str(error))
    return f"open {path}: {reason[:1].lower()}{reason[1:]}"


def read_document(path: str):
    """The YAML or JSON document in ``path``; OSError if unreadable, AdmissionConfigError if not YAML."""
    with open(path, "rb") as f:
        data = f.read()
    return parse_document(data)


def parse_document(data: bytes):
    try:
        return yaml.safe_load(data)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise AdmissionConfigError(f"error converting YAML to JSON: yaml: {where}{problem}") from None


def type_meta_error(document, registered: set, what: str = "") -> Optional[str]:
    """Go's decoding error for a document that is not one of ``registered`` (apiVersion, kind), else None."""
    if not isinstance(document, dict):
        return (f"couldn't get version/kind; json parse error: json: cannot unmarshal "
                f"{json_type(document)} into Go value of type struct {{ APIVersion string "
                f'"json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }}')
    text = codec.dumps(document).decode()
    kind, version = document.get("kind") or "", document.get("apiVersion") or ""
    if not kind:
        return f"Object 'Kind' is missing in '{text}'"
    if not version:
        return f"Object 'apiVersion' is missing in '{text}'"
    if (version, kind) not in registered:
        scheme = what or "pkg/runtime/scheme.go:100"
        return f'no kind "{kind}" is registered for version "{version}" in scheme "{scheme}"'
    return None


def json_type(value) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


def load_admission_config(path: str, enabled: Optional[Iterable[str]] = None) -> dict[str, Optional[dict]]:
    """{plugin name: its configuration (None when it names neither path nor configuration)}.

    Only plugins in ``enabled`` (when given) are returned and have their ``path`` read: a plugin
    named in the file but not enabled is ignored, as upstream.  No path means {}.
    """
    if not path:
        return {}
    wanted = None if enabled is None else set(enabled)
    try:
        document = read_document(path)
    except OSError as e:
        raise AdmissionConfigError(f'failed to read plugin config: unable to read admission control '
                                   f'configuration from "{path}" [{_go_open_error(path, e)}]') from None
    except AdmissionConfigError as e:
        raise AdmissionConfigError(f"failed to read plugin config: {e}") from None
    if document is None:
        document = {}
    problem = type_meta_error(document, ADMISSION_CONFIGURATION | _OTHER_KINDS,
                              "k8s.io/apiserver/pkg/server/options/admission.go:48")
    if problem is not None:
        legacy = [name for key, name in _LEGACY_KEYS.items() if isinstance(document, dict) and key in document]
        if not legacy or problem.startswith("couldn't"):
            raise AdmissionConfigError(f"failed to read plugin config: {problem}")
        # A legacy file is the whole configuration of the plugins that used to read it.
        return {name: document for name in legacy if wanted is None or name in wanted}
    if (document["apiVersion"], document["kind"]) not in ADMISSION_CONFIGURATION:
        raise AdmissionConfigError(f"failed to read plugin config: unexpected type: "
                                   f"*apiserver.{document['kind']}")
    plugins = document.get("plugins") or []
    if not isinstance(plugins, list) or not all(isinstance(p, dict) for p in plugins):
        raise AdmissionConfigError("failed to read plugin config: plugins: must be a list of "
                                   "{name, path, configuration}")
    base = os.path.dirname(path) or os.getcwd()
    result: dict[str, Optional[dict]] = {}
    for plugin in plugins:
        name = str(plugin.get("name") or "")
        # The first entry for a plugin is the one upstream uses.
        if name in result or (wanted is not None and name not in wanted):
            continue
        result[name] = _plugin_configuration(plugin, base)
    return result


def _plugin_configuration(plugin: dict, base: str):
    if plugin.get("configuration") is not None:
        return plugin["configuration"]
    path = str(plugin.get("path") or "")
    if not path:
        return None
    path = path if os.path.isabs(path) else os.path.join(base, path)
    try:
        configuration = read_document(path)
    except OSError as e:
        raise AdmissionConfigError(f"Couldn't open admission plugin configuration {path}: "
                                   f"{_go_open_error(path, e)}") from None
    except AdmissionConfigError as e:
        raise AdmissionConfigError(f'couldn\'t init admission plugin "{plugin.get("name")}": {e}') from None
    return configuration
