"""Development key material for the Alipay RSA2 pair on both sides of the sandbox.

Real deployments get these from the Alipay console; `make run` and the tests generate a fresh pair
per machine instead of committing a private key:
- ``alipay_app_private.pem`` / ``alipay_app_public.pem``: our app's key (we sign; the sandbox verifies);
- ``alipay_platform_private.pem`` / ``alipay_platform_public.pem``: the sandbox "Alipay" key (it signs; we verify).

Usage: ``python -m tools.dev_keys DIR`` (keeps existing files).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _write_pair(directory: Path, stem: str) -> None:
    private_path = directory / f"{stem}_private.pem"
    if private_path.exists():
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    (directory / f"{stem}_public.pem").write_bytes(public_pem)


def ensure_dev_keys(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_pair(directory, "alipay_app")
    _write_pair(directory, "alipay_platform")
    return directory


def sandbox_env(directory: Path) -> dict[str, str]:
    """Environment that points a sandbox server at the same key files."""
    return {
        "MSB_SANDBOX_ALIPAY_APP_PUBLIC_KEY": "",
        "MSB_SANDBOX_ALIPAY_APP_PUBLIC_KEY_FILE": str(directory / "alipay_app_public.pem"),
        "MSB_SANDBOX_ALIPAY_PRIVATE_KEY": "",
        "MSB_SANDBOX_ALIPAY_PRIVATE_KEY_FILE": str(directory / "alipay_platform_private.pem"),
    }


if __name__ == "__main__":
    ensure_dev_keys(Path(sys.argv[1] if len(sys.argv) > 1 else "var/secrets"))
