"""Stable hashing: Python's `hash()` is salted per process, the generator must
produce the same catalogue on every run."""
from __future__ import annotations

import hashlib


def stable_int(*parts: object) -> int:
    key = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def stable_fraction(*parts: object) -> float:
    """Uniform in [0, 1), used for deterministic sampling."""
    return stable_int(*parts) / 2**64
