import io
import json
import subprocess
import sys

import pytest

from auth.__main__ import main
from config import PROJECT_ROOT


@pytest.fixture
def env(monkeypatch, redis_server, redis_client, database, secret_dir):
    monkeypatch.setenv("MSB_REDIS_URL", redis_server.url)
    monkeypatch.setenv("MSB_DATABASE_URL", database.url)
    monkeypatch.setenv("MSB_SECRET_DIR", str(secret_dir))
    return {"MSB_REDIS_URL": redis_server.url, "MSB_DATABASE_URL": database.url, "MSB_SECRET_DIR": str(secret_dir)}


def signing_key_rows(database):
    with database.transaction() as conn:
        return conn.execute("SELECT kid, retired_at FROM signing_keys").fetchall()


def test_rotate_keys_as_a_command(env, database):
    command = [sys.executable, "-m", "auth", "rotate-keys"]
    for _ in range(2):
        done = subprocess.run(
            command, cwd=PROJECT_ROOT, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("new signing key: ")
    rows = signing_key_rows(database)
    active = [row["kid"] for row in rows if row["retired_at"] is None]
    assert len(rows) == 2 and active == [done.stdout.split(": ")[1].strip()]


def test_rotate_keys_drop_previous(env, database, capsys):
    assert main(["rotate-keys"]) == 0
    assert main(["rotate-keys", "--drop-previous"]) == 0
    rows = signing_key_rows(database)
    assert len(rows) == 1 and rows[0]["retired_at"] is None


def test_create_operator_reads_the_password_from_stdin(env, database, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    assert main(["create-operator", "--username", "approver.wang", "--role", "approver", "--role", "editor"]) == 0
    out = capsys.readouterr().out
    assert "approver.wang" in out and "approver,editor" in out and "password" not in out
    with database.transaction() as conn:
        row = conn.execute("SELECT operator_id, password_hash, roles FROM operators WHERE username = %s",
                           ("approver.wang",)).fetchone()
    assert row["operator_id"] in out and row["roles"] == ["approver", "editor"]
    assert row["password_hash"].startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_create_operator_rejects_a_short_password(env, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["create-operator", "--username", "x.y.z", "--role", "admin"]) == 2
    assert "密码长度" in capsys.readouterr().err


def test_rotate_data_key(env, secret_dir, capsys):
    assert main(["rotate-data-key"]) == 0
    assert len(json.loads((secret_dir / "data-keys.json").read_text())["keys"]) == 2
