"""Personal data at rest: AES-256-GCM field encryption, keyed blind indexes, pseudonyms.

Two key files live in the secrets directory (0700), each created on first use with 0600 permissions
and refused if readable by group or others:

* ``data-keys.json``: the AES-256 keyring ``{"active": kid, "keys": {kid: base64}}``. Every
  ciphertext names its ``kid``, so ``rotate_data_key`` only adds a key; old ciphertexts stay readable.
* ``hmac-root.key``: 32 random bytes. Per-purpose HMAC keys are derived from it with HKDF, so a blind
  index (a Redis key), an audit pseudonym and a rate-limit key for the same phone cannot be joined
  with one another. This key cannot rotate without re-indexing every account: guard it.

Creation is race-free across gunicorn workers: a temporary file is hard-linked into place, so the
first writer wins and everyone else reads its key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DATA_KEYS_FILE = "data-keys.json"
HMAC_ROOT_FILE = "hmac-root.key"
_FORMAT = "v1"
_NONCE_BYTES = 12


class CryptoError(RuntimeError):
    """Key material is missing, unsafe or does not match the ciphertext: an operator problem (HTTP 500)."""


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _write_new_file(path: Path, content: bytes) -> None:
    """Create ``path`` with 0600 unless another process got there first (then keep theirs)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)


def _replace_file(path: Path, content: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _read_private_file(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CryptoError(f"{path.name} is accessible by group/others; chmod 600 it")
    return path.read_bytes()


class Crypto:
    def __init__(self, secret_dir: Path | str) -> None:
        self._dir = Path(secret_dir)
        self._lock = threading.Lock()
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        root_path = self._dir / HMAC_ROOT_FILE
        if not root_path.exists():
            _write_new_file(root_path, base64.b64encode(secrets.token_bytes(32)))
        self._hmac_root = base64.b64decode(_read_private_file(root_path))
        self._subkeys: dict[str, bytes] = {}
        self._active_kid, self._data_keys = self._load_data_keys()

    # --- AES-256-GCM ------------------------------------------------------------------------------

    def _load_data_keys(self) -> tuple[str, dict[str, bytes]]:
        path = self._dir / DATA_KEYS_FILE
        if not path.exists():
            kid = secrets.token_hex(4)
            keyring = {"active": kid, "keys": {kid: base64.b64encode(AESGCM.generate_key(256)).decode()}}
            _write_new_file(path, json.dumps(keyring).encode())
        keyring = json.loads(_read_private_file(path))
        keys = {kid: base64.b64decode(value) for kid, value in keyring["keys"].items()}
        if keyring["active"] not in keys or any(len(key) != 32 for key in keys.values()):
            raise CryptoError(f"{DATA_KEYS_FILE} is malformed")
        return keyring["active"], keys

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """``context`` (e.g. ``"id_number"``) is authenticated: a ciphertext moved to another field fails."""
        kid = self._active_kid
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(self._data_keys[kid]).encrypt(nonce, plaintext.encode(), self._aad(kid, context))
        return f"{_FORMAT}:{kid}:{_b64e(nonce + sealed)}"

    def decrypt(self, token: str, *, context: str) -> str:
        try:
            version, kid, body = token.split(":")
        except ValueError:
            raise CryptoError("ciphertext is malformed") from None
        if version != _FORMAT:
            raise CryptoError("unknown ciphertext version")
        if kid not in self._data_keys:
            # Another process rotated the keyring after this one loaded it.
            with self._lock:
                self._active_kid, self._data_keys = self._load_data_keys()
            if kid not in self._data_keys:
                raise CryptoError("ciphertext key id is unknown")
        raw = _b64d(body)
        try:
            plain = AESGCM(self._data_keys[kid]).decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self._aad(kid, context)
            )
        except InvalidTag:
            raise CryptoError("ciphertext failed authentication") from None
        return plain.decode()

    @staticmethod
    def _aad(kid: str, context: str) -> bytes:
        return f"{_FORMAT}:{kid}:{context}".encode()

    def rotate_data_key(self) -> str:
        """Add a new active AES key; returns its kid. Existing ciphertexts keep their old kid."""
        with self._lock:
            _, keys = self._load_data_keys()
            kid = secrets.token_hex(4)
            keys[kid] = AESGCM.generate_key(256)
            keyring = {"active": kid, "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}}
            _replace_file(self._dir / DATA_KEYS_FILE, json.dumps(keyring).encode())
            self._active_kid, self._data_keys = kid, keys
        return kid

    # --- Keyed hashes ---------------------------------------------------------------------------

    def _subkey(self, purpose: str) -> bytes:
        key = self._subkeys.get(purpose)
        if key is None:
            key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"msb-auth/{purpose}".encode()).derive(
                self._hmac_root
            )
            self._subkeys[purpose] = key
        return key

    def keyed_hash(self, purpose: str, value: str, *, hex_chars: int = 32) -> str:
        """HMAC-SHA256 under the purpose's own key, truncated (128 bits by default)."""
        return hmac.new(self._subkey(purpose), value.encode(), hashlib.sha256).hexdigest()[:hex_chars]

    def blind_index(self, kind: str, value: str) -> str:
        """Deterministic lookup key for an identifier (``kind`` e.g. ``"phone"``) without storing it."""
        return self.keyed_hash("blind-index", f"{kind}\x1f{value}")

    def pseudonymous_id(self, kind: str, value: str) -> str:
        """Stable pseudonym for audit records; not joinable with blind indexes without the root key."""
        return self.keyed_hash("audit-pseudonym", f"{kind}\x1f{value}", hex_chars=20)
