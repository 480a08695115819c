"""Real-name levels and the 三级 (two-element) verification flow.

Order matters: the ID number's format and check digit are validated before anything is counted or
sent upstream; a per-account daily limit keeps the population-database check from being used as an
oracle for leaked name/ID pairs (and per ID number and per address); only then is ``IdentityPlatform.verify_person`` called. Its
``reason`` is logged as a category but the user always sees the same ``realname_mismatch``.
An ID number already held by another account is never attached here (no merge): see
``auth.protection`` for how the caller proves control of that account.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auth.errors import InvalidInput, RealnameMismatch
from auth.identifiers import mask_id_number, mask_name, normalize_id_number
from auth.ports import IdentityPlatform
from auth.rate_limits import (
    REALNAME_ACCOUNT_DAILY,
    REALNAME_ID_DAILY,
    REALNAME_IP_HOURLY,
    RateLimiter,
    ip_subject,
)
from kernel.clock import china_today

if TYPE_CHECKING:
    from collections.abc import Callable

    from auth.account_values import Attachment
    from auth.accounts import AccountStore, AccountWork
    from kernel.clock import Clock

log = logging.getLogger("msb.auth.realname")


class RealnameLevel(enum.IntEnum):
    BASIC = 2  # 二级: user-supplied data, format checks only
    VERIFIED = 3  # 三级: name + ID number checked against the population database
    PERSON = 4  # 四级: 实人、实名、实证一致 (face check)
    STRONG = 5  # 五级: as 四级 by a stronger method (certificate, counter)

    @property
    def label(self) -> str:
        return LEVEL_NAMES[self]


LEVEL_NAMES = {2: "二级", 3: "三级", 4: "四级", 5: "五级"}
SOURCE_POPULATION_DB = "population_db"
# Han characters (incl. extension A), Latin letters for foreign residents, and the separators used
# in transliterated minority names (阿拉坦·敖其尔).
_NAME_PATTERN = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fffA-Za-z·•・ ]{2,40}$")


def normalize_name(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not _NAME_PATTERN.match(name):
        raise InvalidInput("name", "姓名格式不正确")
    return name


class RealnameOwnedElsewhere(Exception):
    """The population register confirmed name + ID number, but another account holds that number.
    Internal: the service turns it into ``RealnameBoundElsewhere`` with the ways to prove control."""

    def __init__(self, owner: str, name: str, id_number: str, id_blind: str) -> None:
        super().__init__("id number bound to another account")
        self.owner, self.name, self.id_number, self.id_blind = owner, name, id_number, id_blind

    def __repr__(self) -> str:
        return f"RealnameOwnedElsewhere(owner={self.owner!r})"


@dataclass(frozen=True)
class RealnameResult:
    account_id: str  # differs from the caller's when the account was merged into an earlier one
    realname_level: int
    merged_from: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "account_id": self.account_id,
            "realname_level": self.realname_level,
            "realname_level_name": LEVEL_NAMES[self.realname_level],
            "merged": bool(self.merged_from),
        }


class RealnameVerifier:
    def __init__(
        self, accounts: AccountStore, identity: IdentityPlatform, limiter: RateLimiter, clock: Clock
    ) -> None:
        self._accounts = accounts
        self._identity = identity
        self._limiter = limiter
        self._clock = clock

    def verify(self, account_id: str, name: str, id_number: str, *, client_ip: str = "",
               announce: Callable[[AccountWork, Attachment], None] | None = None) -> RealnameResult:
        """``announce`` runs inside the transaction that records the verification (after the upstream
        said yes), so the facts it writes to the outbox commit with the record."""
        id_number = normalize_id_number(id_number, today=china_today(self._clock))
        name = normalize_name(name)
        account_id = self._accounts.resolve(account_id)
        existing = self._accounts.realname_index(account_id)
        if existing is not None:
            if existing != self._accounts.blind_id_number(id_number):
                raise RealnameMismatch("该账号已完成其他身份的实名认证")
            return RealnameResult(account_id, self._accounts.level(account_id))
        blind = self._accounts.blind_id_number(id_number)
        # One atomic script over three windows: per account, per ID number across every account
        # (10 fresh accounts trying one number), per client address. Subjects are keyed hashes.
        self._limiter.hit(
            (REALNAME_ACCOUNT_DAILY, f"account:{account_id}"),
            (REALNAME_ID_DAILY, f"id_number:{blind}"),
            (REALNAME_IP_HOURLY, ip_subject(client_ip)),
        )
        verification = self._identity.verify_person(name, id_number)
        if not verification.matched:
            log.info("realname check failed", extra={"fields": {"reason": verification.reason}})
            raise RealnameMismatch()
        from auth.accounts import IdentityOwned

        try:
            with self._accounts.work() as work:
                attachment = self._accounts.set_realname(
                    account_id,
                    name=name,
                    id_number=id_number,
                    level=RealnameLevel.VERIFIED,
                    source=SOURCE_POPULATION_DB,
                    masked=mask_id_number(id_number),
                    masked_name=mask_name(name),
                    work=work,
                )
                if announce is not None:
                    announce(work, attachment)
        except IdentityOwned as owned:
            raise RealnameOwnedElsewhere(owned.owner, name, id_number, blind) from None
        survivor = attachment.account_id
        return RealnameResult(survivor, self._accounts.level(survivor), attachment.merged)
