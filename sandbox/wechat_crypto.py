"""WeChat's message encryption (消息加解密, safe mode) as the platform applies it to pushed events.

Written from WeChat's published scheme, independently of ``push.wechat_events`` (the sandbox is
"WeChat": it must catch the BFF's mistakes, not share them). AES-256-CBC, key =
base64(EncodingAESKey + "="), IV = the key's first 16 bytes, PKCS#7 padded to 32 bytes, plaintext =
16 random bytes + 4-byte big-endian length + message + appid; ``msg_signature`` =
sha1(sorted([Token, timestamp, nonce, Encrypt])). Used when the sandbox is started with
``MSB_SANDBOX_WECHAT_PUSH_AES_KEY`` (43 characters): events are then queued in safe mode.
"""
from __future__ import annotations

import base64
import hashlib
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


def encrypt(encoding_aes_key: str, appid: str, message: str) -> str:
    key = base64.b64decode(encoding_aes_key + "=")
    text = message.encode("utf-8")
    plain = os.urandom(16) + struct.pack(">I", len(text)) + text + appid.encode("utf-8")
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def msg_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode("utf-8")).hexdigest()
