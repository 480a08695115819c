"""Legal-person (enterprise) accounts and the people who may act for them.

An enterprise account is created the first time someone links its USCC; it never logs in itself.
A verified person whose name equals the registry's legal representative gets an active
``legal_representative`` link. Anyone else gets a ``pending`` ``agent`` (经办人) link that only an
active legal representative can approve: a name on a business licence is public, so linking alone
must never grant the right to act for a company. Links are mirrored on both sides (person →
enterprises, enterprise → members) and written in one MULTI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis

from auth import keys
from auth.errors import EnterpriseLinkRequired
from auth.ports import EnterpriseRecord
from kernel.clock import Clock
from kernel.ids import new_id

# Prefix of an enterprise's id (``kernel.ids``).
ENTERPRISE_PREFIX = "ent_"

ROLE_LEGAL_REPRESENTATIVE = "legal_representative"
ROLE_AGENT = "agent"
STATUS_ACTIVE = "active"
STATUS_PENDING = "pending"


@dataclass(frozen=True)
class EnterpriseLink:
    enterprise_id: str
    uscc: str
    name: str
    role: str
    status: str
    linked_at: float

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.enterprise_id,
            "uscc": self.uscc,
            "name": self.name,
            "role": self.role,
            "status": self.status,
        }


def link_strength(raw: str | None) -> tuple[int, int]:
    """Order used when two links to one enterprise meet in a merge: active beats pending, legal
    representative beats agent."""
    if raw is None:
        return (-1, -1)
    link = json.loads(raw)
    return (link["status"] == STATUS_ACTIVE, link["role"] == ROLE_LEGAL_REPRESENTATIVE)


class Enterprises:
    def __init__(self, redis_client: redis.Redis, clock: Clock) -> None:
        self._redis = redis_client
        self._clock = clock

    def ensure(self, record: EnterpriseRecord) -> str:
        """The enterprise account for a registry record, created on first sight; registry fields
        (name, status, region) are refreshed every time."""
        index = keys.enterprise_by_uscc(record.uscc)
        candidate = new_id(ENTERPRISE_PREFIX)
        self._redis.set(index, candidate, nx=True)
        enterprise_id = self._redis.get(index)
        fields = {
            "type": "enterprise",
            "uscc": record.uscc,
            "name": record.name,
            "status": record.status,
            "region_code": record.region_code or "",
        }
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(keys.account(enterprise_id), "created_at", repr(self._clock.now()))
            pipe.hset(keys.account(enterprise_id), mapping=fields)
            pipe.execute()
        return enterprise_id

    def _write_link(self, person_id: str, enterprise_id: str, role: str, status: str) -> None:
        raw = json.dumps({"role": role, "status": status, "linked_at": self._clock.now()})
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.account_enterprises(person_id), enterprise_id, raw)
            pipe.hset(keys.enterprise_members(enterprise_id), person_id, raw)
            pipe.execute()

    def link(self, person_id: str, enterprise_id: str, *, legal_representative: bool) -> EnterpriseLink:
        current = self.get_link(person_id, enterprise_id)
        if (
            current is not None
            and current.status == STATUS_ACTIVE
            and (current.role == ROLE_LEGAL_REPRESENTATIVE or not legal_representative)
        ):
            return current  # never downgrade an existing active link
        if legal_representative:
            self._write_link(person_id, enterprise_id, ROLE_LEGAL_REPRESENTATIVE, STATUS_ACTIVE)
        elif current is None:
            self._write_link(person_id, enterprise_id, ROLE_AGENT, STATUS_PENDING)
        return self.get_link(person_id, enterprise_id)

    def approve_agent(self, legal_id: str, enterprise_id: str, agent_id: str) -> EnterpriseLink:
        self.require_legal_representative(legal_id, enterprise_id)
        link = self.get_link(agent_id, enterprise_id)
        if link is None:
            raise EnterpriseLinkRequired("该用户尚未申请关联本企业")
        if link.status != STATUS_ACTIVE:
            self._write_link(agent_id, enterprise_id, link.role, STATUS_ACTIVE)
        return self.get_link(agent_id, enterprise_id)

    def unlink(self, actor_id: str, enterprise_id: str, member_id: str) -> None:
        """A person may leave an enterprise; a legal representative may remove anyone."""
        if actor_id != member_id:
            self.require_legal_representative(actor_id, enterprise_id)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.account_enterprises(member_id), enterprise_id)
            pipe.hdel(keys.enterprise_members(enterprise_id), member_id)
            pipe.execute()

    def require_legal_representative(self, person_id: str, enterprise_id: str) -> EnterpriseLink:
        link = self.get_link(person_id, enterprise_id)
        if link is None or link.status != STATUS_ACTIVE or link.role != ROLE_LEGAL_REPRESENTATIVE:
            raise EnterpriseLinkRequired("仅企业法定代表人可执行此操作")
        return link

    def can_act_for(self, person_id: str, enterprise_id: str) -> bool:
        raw = self._redis.hget(keys.account_enterprises(person_id), enterprise_id)
        return raw is not None and json.loads(raw)["status"] == STATUS_ACTIVE

    def act_for(self, person_id: str, enterprise_id: str) -> None:
        """Raise EnterpriseLinkRequired unless ``person_id`` holds an active link to the enterprise."""
        if not self.can_act_for(person_id, enterprise_id):
            raise EnterpriseLinkRequired()

    def get_link(self, person_id: str, enterprise_id: str) -> EnterpriseLink | None:
        raw = self._redis.hget(keys.account_enterprises(person_id), enterprise_id)
        if raw is None:
            return None
        return self._build(enterprise_id, json.loads(raw))

    def links(self, person_id: str) -> list[EnterpriseLink]:
        raw_links = self._redis.hgetall(keys.account_enterprises(person_id))
        return sorted(
            (self._build(enterprise_id, json.loads(raw)) for enterprise_id, raw in raw_links.items()),
            key=lambda link: link.linked_at,
        )

    def _build(self, enterprise_id: str, link: dict) -> EnterpriseLink:
        uscc, name = self._redis.hmget(keys.account(enterprise_id), "uscc", "name")
        return EnterpriseLink(enterprise_id, uscc or "", name or "", link["role"], link["status"], link["linked_at"])
