"""Console operators: separate from citizens in storage, id prefix, token audience and session policy.

Passwords are hashed with argon2id (argon2-cffi defaults: RFC 9106 low-memory profile, t=3,
m=64 MiB, p=4) and rehashed on login when the parameters change. Wrong passwords are throttled by
``auth.login_guard``: five from one address lock that address out of the username for 15 minutes,
one address failing across many usernames is refused, and a username attacked from everywhere only
slows down unknown addresses (seconds, capped) — the operator's own address still gets in. Unknown
usernames are counted exactly like real ones and still pay for a hash, so neither the answer nor its
timing tells whether a username exists. The records live in PostgreSQL (``auth.operator_records``);
the throttles stay in Redis. Roles are not hierarchical: ``admin`` manages operators, and publishing still needs
``editor`` + ``approver`` (two people).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from auth import operator_records
from auth.audit import AuditLog
from auth.errors import AccountLocked, InvalidInput, OperatorCredentialsInvalid, OperatorRoleRequired
from auth.login_guard import OPERATOR_GUARD, LoginGuard
from auth.rate_limits import OPERATOR_LOGIN_IP, RateLimiter, ip_subject
from kernel.clock import Clock, instant
from kernel.ids import new_id
from kernel.postgres import Database

# Prefix of an operator's id (``kernel.ids``).
OPERATOR_PREFIX = "op_"

ROLES = ("editor", "approver", "admin")
USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{2,31}$")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256  # argon2 accepts more; a cap keeps a 1 MB "password" from costing us


@dataclass(frozen=True)
class Operator:
    operator_id: str
    username: str
    roles: tuple[str, ...]
    disabled: bool


def require_role(roles: Iterable[str], role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    held = set(roles)
    # Admins hold every role (separation of duties is the four-eyes rule on approvals, enforced there).
    if role not in held and "admin" not in held:
        raise OperatorRoleRequired(role)


class Operators:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        limiter: RateLimiter,
        audit: AuditLog,
        hasher: PasswordHasher | None = None,
        guard: LoginGuard | None = None,
    ) -> None:
        self._database = database
        self._clock = clock
        self._limiter = limiter
        self._guard = guard or LoginGuard(limiter)
        self._audit = audit
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    def create(self, username: str, password: str, roles: Iterable[str]) -> Operator:
        username = username.strip().lower()
        roles = tuple(sorted(set(roles)))
        if not USERNAME_PATTERN.match(username):
            raise InvalidInput("username", "用户名须为 3–32 位小写字母、数字或 . _ -")
        if not roles or any(role not in ROLES for role in roles):
            raise InvalidInput("roles", "角色无效")
        if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
            raise InvalidInput("password", f"密码长度须为 {MIN_PASSWORD_LENGTH}–{MAX_PASSWORD_LENGTH} 位")
        operator_id = new_id(OPERATOR_PREFIX)
        password_hash = self._hasher.hash(password)
        try:
            with self._database.transaction() as conn:
                operator_records.insert(conn, operator_id=operator_id, username=username, password_hash=password_hash,
                                        roles=roles, created_at=instant(self._clock.now()))
        except operator_records.UsernameTaken:
            raise InvalidInput("username", "用户名已存在") from None
        self._audit.record("operator_created", account_id=operator_id, channel="console", role=",".join(roles))
        return Operator(operator_id, username, roles, False)

    def get(self, operator_id: str) -> Operator | None:
        with self._database.transaction() as conn:
            row = operator_records.by_id(conn, operator_id)
        return _operator(row) if row else None

    def set_disabled(self, operator_id: str, disabled: bool) -> None:
        with self._database.transaction() as conn:
            operator_records.set_disabled(conn, operator_id, disabled)

    def authenticate(self, username: str, password: str, *, client_ip: str) -> Operator:
        """The operator for a correct username/password; raises RateLimited (this address is spraying,
        or the username is being slowed down for unknown addresses), AccountLocked (this address is
        locked out of this username; also on the failure that locks it) or OperatorCredentialsInvalid
        (the same for unknown users, wrong passwords and disabled operators)."""
        username = (username or "").strip().lower()[:64]
        self._limiter.hit((OPERATOR_LOGIN_IP, ip_subject(client_ip)))
        attempt = self._guard.begin(OPERATOR_GUARD, username, client_ip)
        with self._database.transaction() as conn:
            row = operator_records.by_username(conn, username)
        operator_id = row["operator_id"] if row else None
        stored = row["password_hash"] if row else None
        if self._password_matches(stored, password[:MAX_PASSWORD_LENGTH] if isinstance(password, str) else ""):
            operator = _operator(row)
            if not operator.disabled:
                self._guard.succeeded(attempt)
                if self._hasher.check_needs_rehash(stored):
                    with self._database.transaction() as conn:
                        operator_records.replace_password_hash(conn, operator_id, stored, self._hasher.hash(password))
                self._audit.record("operator_login", account_id=operator_id, ip=client_ip, channel="console")
                return operator
        self._audit.record("operator_login", account_id=operator_id, ip=client_ip, channel="console", outcome="failure")
        try:
            self._guard.failed(attempt)
        except AccountLocked:
            self._audit.record("lockout", account_id=operator_id, ip=client_ip, channel="console", scope="operator_ip")
            raise
        raise OperatorCredentialsInvalid()

    def _password_matches(self, stored: str | None, password: str) -> bool:
        if stored is None:
            # Pay for one hash anyway so response time does not reveal unknown usernames.
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash("not-a-real-password")
            stored = self._dummy_hash
            password = password + "\x00unknown"
            try:
                self._hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                pass
            return False
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False


def _operator(row: dict[str, Any]) -> Operator:
    return Operator(row["operator_id"], row["username"], tuple(row["roles"]), row["disabled"])
