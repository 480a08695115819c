"""Alipay RSA2 (SHA256withRSA, PKCS#1 v1.5) signing rules, per
shared/notes/wechat-alipay-protocols.md §8."""

from __future__ import annotations

import base64
import binascii
from typing import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def request_sign_content(params: Mapping[str, str]) -> str:
    """All params except `sign` (sign_type included), empty values dropped,
    keys in ASCII order, raw (not URL-encoded) `k=v` joined with `&`."""
    return "&".join(f"{key}={params[key]}" for key in sorted(params) if key != "sign" and params[key] not in ("", None))


def sign(private_key: rsa.RSAPrivateKey, content: bytes) -> str:
    return base64.b64encode(private_key.sign(content, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def verify(public_key: rsa.RSAPublicKey, content: bytes, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, content, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def load_public_key(text: str) -> rsa.RSAPublicKey:
    """PEM, or the bare base64 DER the Alipay console shows."""
    text = text.strip()
    if not text.startswith("-----BEGIN"):
        body = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
        text = f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"
    key = serialization.load_pem_public_key(text.encode("ascii"))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def load_or_generate_private_key(pem: str | None) -> rsa.RSAPrivateKey:
    if not pem:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def public_key_pem(private_key: rsa.RSAPrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def public_key_bare(private_key: rsa.RSAPrivateKey) -> str:
    der = private_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")
