"""Operator commands: ``python -m auth rotate-keys | rotate-data-key | create-operator``.

Reads ``MSB_DATABASE_URL``, ``MSB_REDIS_URL`` and ``MSB_SECRET_DIR`` through ``config.Settings.from_env()``.
Signing keys and operators are records in PostgreSQL; operators' login throttles are in Redis.
"""

from __future__ import annotations

import argparse
import getpass
import sys


from auth.audit import AuditLog
from auth.errors import AuthError
from auth.operators import ROLES, Operators
from auth.rate_limits import RateLimiter
from auth.session_types import AuthConfig
from auth.signing_keys import SigningKeys
from kernel.redis import redis_client as kernel_redis_client
from config import Settings
from kernel.clock import SystemClock
from kernel.crypto import Crypto
from kernel.postgres import Database


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise SystemExit("passwords do not match")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auth")
    commands = parser.add_subparsers(dest="command", required=True)
    rotate = commands.add_parser("rotate-keys", help="activate a new ES256 signing key")
    rotate.add_argument(
        "--drop-previous", action="store_true", help="key compromise: distrust old keys now (all access tokens fail)"
    )
    commands.add_parser("rotate-data-key", help="add a new active AES key for personal data at rest")
    create = commands.add_parser("create-operator", help="create a console operator; password from stdin or prompt")
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, action="append", choices=ROLES, help="repeatable")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    crypto = Crypto(settings.secret_dir)
    if args.command == "rotate-data-key":
        print(f"new data key: {crypto.rotate_data_key()}")
        return 0
    clock = SystemClock()
    database = Database(settings.database_url, min_size=0, max_size=1)
    try:
        return _run(args, settings, crypto, clock, database)
    finally:
        database.close()


def _run(args: argparse.Namespace, settings: Settings, crypto: Crypto, clock: SystemClock, database: Database) -> int:
    if args.command == "rotate-keys":
        config = AuthConfig()
        keys = SigningKeys(database, crypto, clock, retain_seconds=config.signing_key_retain_seconds)
        print(f"new signing key: {keys.rotate(drop_previous=args.drop_previous)}")
        return 0
    client = kernel_redis_client(settings.redis_url)  # the login throttles
    operators = Operators(database, clock, RateLimiter(client, crypto, clock), AuditLog(database, crypto, clock))
    try:
        operator = operators.create(args.username, _read_password(), args.role)
    except AuthError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        client.close()
    print(f"created operator {operator.username} ({operator.operator_id}) roles={','.join(operator.roles)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
