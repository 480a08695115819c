"""Moved to ``kernel.crypto``; this alias goes once every import names the kernel."""
from kernel.crypto import DATA_KEYS_FILE, HMAC_ROOT_FILE, Crypto, CryptoError  # noqa: F401
