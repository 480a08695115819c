"""Opaque account ids: a type prefix and 128 random bits in lower-case base32.

They go into token ``sub`` claims, so they carry no phone, ID number or openid and are not
sequential (no enumeration, no account-count leak).
"""

from __future__ import annotations

import base64
import secrets

PERSON_PREFIX = "acc_"
ENTERPRISE_PREFIX = "ent_"
OPERATOR_PREFIX = "op_"


def new_id(prefix: str) -> str:
    return prefix + base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()
