"""The reliability suite, at small scale (seconds): real kapiserver processes killed, stopped and restarted
under load, checked from the clients' side (every acknowledged write kept, every acknowledged event seen
exactly once)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
