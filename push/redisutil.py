"""Small Redis helpers shared by the push modules."""
from __future__ import annotations

import secrets


def scratch_name(prefix: str) -> str:
    """A unique suffix for a scratch key (``push.keys.scratch``)."""
    return f"{prefix}:{secrets.token_hex(6)}"
