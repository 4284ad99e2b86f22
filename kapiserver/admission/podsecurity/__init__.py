"""PodSecurity admission (Pod Security Standards); see plugin.py."""

from .config import Configuration, load
from .plugin import PodSecurity

__all__ = ["Configuration", "PodSecurity", "load"]
