"""
The admission flags: --enable-admission-plugins, --disable-admission-plugins,
--admission-control and --admission-control-config-file, checked when the
configuration is parsed so that a bad one stops startup with one line.
"""

from __future__ import annotations

from typing import Iterable, Optional

from .config import AdmissionConfigError, load_admission_config
from .plugins import MISSING, ORDER, check_plugin_configs, enabled_plugins


def check_plugin_names(names: Iterable[str]) -> Optional[str]:
    """Why ``names`` cannot be used (an unknown or missing plugin), or None."""
    for name in names:
        if name in MISSING:
            return f'admission plugin "{name}" is not available in kapiserver yet'
        if name not in ORDER:
            return f'plugin "{name}" is unknown'
    return None


def validate_flags(path: str, enable=(), disable=(), admission_control=()) -> None:
    """What --admission-control-config-file and the plugin flags give must be usable: AdmissionConfigError if not."""
    enabled = enabled_plugins(enable, disable, admission_control)
    check_plugin_configs(load_admission_config(path, enabled), enabled)


def validate(security, error) -> None:
    """The admission flags of a SecurityConfig; ``error(flag, message)`` builds the exception raised."""
    for flag, names in (("enable-admission-plugins", security.enable_admission_plugins),
                        ("disable-admission-plugins", security.disable_admission_plugins),
                        ("admission-control", security.admission_control)):
        problem = check_plugin_names(names)
        if problem:
            raise error(flag, f"{flag} {problem}")
    try:
        validate_flags(security.admission_control_config_file, security.enable_admission_plugins,
                       security.disable_admission_plugins, security.admission_control)
    except AdmissionConfigError as e:
        raise error("admission-control-config-file", str(e)) from None


def load_for(security) -> dict:
    """The configurations of the plugins a SecurityConfig enables, from its --admission-control-config-file."""
    enabled = enabled_plugins(security.enable_admission_plugins, security.disable_admission_plugins,
                              security.admission_control)
    return load_admission_config(security.admission_control_config_file, enabled)
