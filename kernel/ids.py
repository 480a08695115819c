"""Opaque ids: a type prefix and 128 random bits in lower-case base32.

They go into token ``sub`` claims and URLs, so they carry no personal data and are not sequential
(no enumeration, no count leak). Each domain names its own prefixes.
"""
from __future__ import annotations

import base64
import secrets


def new_id(prefix: str) -> str:
    return prefix + base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()
