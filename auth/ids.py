"""Prefixes of identity's opaque ids (see ``kernel.ids``).

They go into token ``sub`` claims, so they carry no phone, ID number or openid and are not
sequential (no enumeration, no account-count leak).
"""

from __future__ import annotations

from kernel.ids import new_id  # noqa: F401  (the generator lives in the kernel)

PERSON_PREFIX = "acc_"
ENTERPRISE_PREFIX = "ent_"
OPERATOR_PREFIX = "op_"
