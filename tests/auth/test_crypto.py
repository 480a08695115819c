import json
import os
import stat

import pytest

from kernel.crypto import DATA_KEYS_FILE, HMAC_ROOT_FILE, Crypto, CryptoError


def test_key_files_are_private(secret_dir, crypto):
    assert stat.S_IMODE(os.stat(secret_dir).st_mode) == 0o700
    for name in (DATA_KEYS_FILE, HMAC_ROOT_FILE):
        assert stat.S_IMODE(os.stat(secret_dir / name).st_mode) == 0o600


def test_round_trip_and_random_nonce(crypto):
    first = crypto.encrypt("150102198503121232", context="id_number")
    second = crypto.encrypt("150102198503121232", context="id_number")
    assert first != second
    assert "150102" not in first
    assert crypto.decrypt(first, context="id_number") == "150102198503121232"


def test_context_is_authenticated(crypto):
    sealed = crypto.encrypt("13812345678", context="phone")
    with pytest.raises(CryptoError):
        crypto.decrypt(sealed, context="id_number")


def test_tampering_is_detected(crypto):
    sealed = crypto.encrypt("13812345678", context="phone")
    version, kid, body = sealed.split(":")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(CryptoError):
        crypto.decrypt(f"{version}:{kid}:{flipped}", context="phone")


def test_second_instance_reads_the_same_keys(secret_dir, crypto):
    other = Crypto(secret_dir)
    assert other.decrypt(crypto.encrypt("x", context="c"), context="c") == "x"
    assert other.blind_index("phone", "13812345678") == crypto.blind_index("phone", "13812345678")


def test_rotation_keeps_old_ciphertexts_readable_in_every_process(secret_dir, crypto):
    worker = Crypto(secret_dir)  # loaded before the rotation
    old = crypto.encrypt("old", context="c")
    new_kid = Crypto(secret_dir).rotate_data_key()
    rotated = Crypto(secret_dir)
    new = rotated.encrypt("new", context="c")
    assert new.split(":")[1] == new_kid
    assert rotated.decrypt(old, context="c") == "old"
    assert worker.decrypt(new, context="c") == "new"  # reloads on an unknown kid
    assert len(json.loads((secret_dir / DATA_KEYS_FILE).read_text())["keys"]) == 2


def test_refuses_key_files_readable_by_others(secret_dir, crypto):
    os.chmod(secret_dir / HMAC_ROOT_FILE, 0o644)
    with pytest.raises(CryptoError, match="chmod 600"):
        Crypto(secret_dir)


def test_keyed_hashes_are_separated_by_kind_and_purpose(crypto):
    phone = "13812345678"
    assert crypto.blind_index("phone", phone) != crypto.blind_index("wechat_openid", phone)
    assert crypto.blind_index("phone", phone) != crypto.keyed_hash("rate-limit", phone)
    assert crypto.pseudonymous_id("account", "acc_x") != crypto.blind_index("account", "acc_x")[:20]
    assert len(crypto.blind_index("phone", phone)) == 32
    assert len(crypto.pseudonymous_id("ip", "10.0.0.1")) == 20


def test_different_secret_dirs_give_unrelated_indexes(tmp_path):
    assert Crypto(tmp_path / "a").blind_index("phone", "13812345678") != Crypto(tmp_path / "b").blind_index(
        "phone", "13812345678"
    )
