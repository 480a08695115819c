"""The ES256 key set that signs access tokens, shared by every worker through PostgreSQL
(``auth.signing_key_records``).

Private keys are stored encrypted (``Crypto.encrypt``, context bound to the kid); public keys as
JWKs. Exactly one key is active. ``rotate()`` activates a fresh key and retires the previous one,
which stays published and trusted for ``retain_seconds`` (longest access-token life + worker cache +
clock leeway) so tokens it signed keep verifying until they expire; after that it is ignored and
deleted on the next rotation. ``rotate(drop_previous=True)`` is the compromise switch: old keys
go at once and every outstanding access token fails (clients refresh).

Workers cache the set for ``cache_seconds``, so verifying a token does not query the database; an
unknown kid forces a reload at most once a second, so garbage kids cannot hammer it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from auth import signing_key_records
from kernel.clock import Clock
from kernel.crypto import Crypto
from kernel.postgres import Database

# A kid is the RFC 7638 JWK thumbprint: base64url SHA-256, 43 characters.
KID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_UNKNOWN_KID_RELOAD_INTERVAL = 1.0


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    jwk = {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64e(numbers.x.to_bytes(32, "big")),
        "y": _b64e(numbers.y.to_bytes(32, "big")),
    }
    thumbprint = hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()).digest()
    return {**jwk, "kid": _b64e(thumbprint), "use": "sig", "alg": "ES256"}


def _public_key_from_jwk(jwk: dict[str, str]) -> ec.EllipticCurvePublicKey:
    x, y = (int.from_bytes(_b64d(jwk[name]), "big") for name in ("x", "y"))
    return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r})"


@dataclass(frozen=True)
class _Snapshot:
    active_kid: str | None
    records: dict[str, dict]
    loaded_at: float


class SigningKeys:
    def __init__(
        self,
        database: Database,
        crypto: Crypto,
        clock: Clock,
        *,
        retain_seconds: int,
        cache_seconds: float = 30.0,
    ) -> None:
        self._database = database
        self._crypto = crypto
        self._clock = clock
        self._retain = retain_seconds
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._snapshot = _Snapshot(None, {}, float("-inf"))
        self._private_cache: dict[str, SigningKey] = {}
        self._public_cache: dict[str, ec.EllipticCurvePublicKey] = {}

    # --- reading ------------------------------------------------------------------------------

    def _load(self) -> _Snapshot:
        with self._database.transaction() as conn:
            active_kid, records = signing_key_records.load_all(conn)
        snapshot = _Snapshot(active_kid, records, self._clock.now())
        self._snapshot = snapshot
        return snapshot

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if self._clock.now() - snapshot.loaded_at >= self._cache_seconds:
            snapshot = self._load()
        return snapshot

    def _trusted(self, record: dict) -> bool:
        retired_at = record.get("retired_at")
        return retired_at is None or self._clock.now() < retired_at + self._retain

    def active(self) -> SigningKey:
        snapshot = self._current()
        if snapshot.active_kid is None:
            self._create_first_key()
            snapshot = self._load()
        kid = snapshot.active_kid
        key = self._private_cache.get(kid)
        if key is None:
            pem = self._crypto.decrypt(snapshot.records[kid]["private_enc"], context=f"signing-key:{kid}")
            key = SigningKey(kid, serialization.load_pem_private_key(pem.encode(), password=None))
            self._private_cache[kid] = key
        return key

    def public_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        """The trusted public key for ``kid``, or None. Callers validate the kid's format first."""
        if not KID_PATTERN.match(kid):
            return None
        snapshot = self._current()
        if kid not in snapshot.records:
            with self._lock:
                if self._clock.now() - self._snapshot.loaded_at >= _UNKNOWN_KID_RELOAD_INTERVAL:
                    snapshot = self._load()
                else:
                    snapshot = self._snapshot
        record = snapshot.records.get(kid)
        if record is None or not self._trusted(record):
            return None
        key = self._public_cache.get(kid)
        if key is None:
            key = _public_key_from_jwk(record["public_jwk"])
            self._public_cache[kid] = key
        return key

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """RFC 7517 key set: the active key and retired keys still inside their retention."""
        snapshot = self._current()
        if snapshot.active_kid is None:
            self.active()
            snapshot = self._snapshot

        def newest_first(item: tuple[str, dict]) -> tuple[bool, float]:
            kid, record = item
            return (kid != snapshot.active_kid, -(record["retired_at"] or record["created_at"]))

        return {
            "keys": [
                dict(record["public_jwk"])
                for _, record in sorted(snapshot.records.items(), key=newest_first)
                if self._trusted(record)
            ]
        }

    # --- writing ------------------------------------------------------------------------------

    def _new_record(self) -> tuple[str, dict]:
        private_key = ec.generate_private_key(ec.SECP256R1())
        jwk = public_jwk(private_key.public_key())
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        record = {
            "private_enc": self._crypto.encrypt(pem, context=f"signing-key:{jwk['kid']}"),
            "public_jwk": jwk,
            "created_at": self._clock.now(),
            "retired_at": None,
        }
        return jwk["kid"], record

    def _create_first_key(self) -> None:
        kid, record = self._new_record()
        with self._database.transaction() as conn:
            signing_key_records.lock_for_change(conn)
            if not signing_key_records.has_active(conn):  # else another worker bootstrapped first
                signing_key_records.insert_active(conn, kid, record)

    def rotate(self, *, drop_previous: bool = False) -> str:
        """Activate a new key; returns its kid. Prunes keys whose retention has passed."""
        kid, record = self._new_record()
        now = self._clock.now()
        with self._database.transaction() as conn:
            signing_key_records.lock_for_change(conn)
            signing_key_records.retire_active(conn, now)
            signing_key_records.delete_retired(conn, retired_before=None if drop_previous else now - self._retain)
            signing_key_records.insert_active(conn, kid, record)
        self._load()
        return kid
