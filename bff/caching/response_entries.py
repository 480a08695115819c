"""What the response store keeps in Redis and what it hands out (plain Python: no Flask import here).

An entry is stored as one value: a header JSON line (ETag, fresh/stale deadlines, creation time, tag
generations, zlib flag) and the body, zlib level 1 above ``COMPRESS_THRESHOLD`` bytes. The ETag is
computed once, when the body is made, by the same ``etag_for`` that ``bff.caching.conditional`` uses.
"""
from __future__ import annotations

import hashlib
import json
import logging
import zlib
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("msb.cache")

__all__ = ["COMPRESS_THRESHOLD", "CachedResponse", "Entry", "body_bytes", "decode", "encode", "etag_for"]

COMPRESS_THRESHOLD = 1024


def etag_for(body: bytes) -> str:
    """The validator of every JSON answer: the first 32 hex digits of SHA-256 of the body."""
    return hashlib.sha256(body).hexdigest()[:32]


def body_bytes(value: Any) -> bytes:
    """``compute()``'s result as the body: ready bytes, or compact UTF-8 JSON of a JSON-able value."""
    if isinstance(value, bytes):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Entry:
    body: bytes
    etag: str
    fresh_until: float
    stale_until: float
    created_at: float
    generations: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CachedResponse:
    """What the HTTP layer sends: ``body`` (compact UTF-8 JSON), its ``etag`` (unquoted, as
    ``bff.caching.conditional`` makes them) and how it was served (``status``, for ``X-Cache`` and stats)."""

    body: bytes
    etag: str
    status: str   # local | hit | stale | miss | coalesced | waited | bypass
    age: float    # seconds since computed
    fresh_for: float  # seconds it stays fresh (0 when stale or uncached)

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    @property
    def quoted_etag(self) -> str:
        return f'"{self.etag}"'

    def matches(self, if_none_match: str | None) -> bool:
        """Weak comparison (RFC 9110 §13.1.2) against an ``If-None-Match`` header value."""
        if not if_none_match:
            return False
        for candidate in if_none_match.split(","):
            tag = candidate.strip()
            if tag == "*":
                return True
            if tag.startswith("W/"):
                tag = tag[2:]
            if tag.strip('"') == self.etag:
                return True
        return False


def encode(entry: Entry, compress_threshold: int = COMPRESS_THRESHOLD) -> bytes:
    body, compressed = entry.body, 0
    if len(body) > compress_threshold:
        body, compressed = zlib.compress(body, 1), 1
    header = {"e": entry.etag, "f": entry.fresh_until, "s": entry.stale_until,
              "c": entry.created_at, "g": entry.generations, "z": compressed}
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + body


def decode(raw: bytes | None) -> Entry | None:
    """The stored entry, or None when missing or unreadable (an unreadable one is recomputed)."""
    if not raw:
        return None
    try:
        header_raw, _, body = raw.partition(b"\n")
        header = json.loads(header_raw)
        if header.get("z"):
            body = zlib.decompress(body)
        return Entry(body=body, etag=header["e"], fresh_until=float(header["f"]),
                     stale_until=float(header["s"]), created_at=float(header["c"]),
                     generations={k: int(v) for k, v in header.get("g", {}).items()})
    except (ValueError, KeyError, TypeError, zlib.error):
        log.warning("response cache: unreadable entry ignored")
        return None
