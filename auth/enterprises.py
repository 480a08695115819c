"""Legal-person (enterprise) accounts and the people who may act for them.

An enterprise account is created the first time someone links its USCC; it never logs in itself.
A verified person whose name equals the registry's legal representative gets an active
``legal_representative`` link. Anyone else gets a ``pending`` ``agent`` (经办人) link that only an
active legal representative can approve: a name on a business licence is public, so linking alone
must never grant the right to act for a company. Enterprises and links are PostgreSQL records
(``auth.enterprise_records``); one link row is read from both sides (person → enterprises, enterprise →
members). Writing methods take an optional ``conn`` so a flow can commit the link and its event together.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from auth import enterprise_records as records
from auth.errors import EnterpriseLinkRequired
from auth.ports import EnterpriseRecord
from kernel.clock import Clock
from kernel.ids import new_id
from kernel.postgres import Database

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


class Enterprises:
    def __init__(self, clock: Clock, *, database: Database) -> None:
        self._database = database
        self._clock = clock

    @contextmanager
    def _within(self, conn: psycopg.Connection | None) -> Iterator[psycopg.Connection]:
        if conn is not None:
            yield conn
            return
        with self._database.transaction() as own:
            yield own

    def ensure(self, record: EnterpriseRecord, *, conn: psycopg.Connection | None = None) -> str:
        """The enterprise account for a registry record, created on first sight; registry fields
        (name, status, region) are refreshed every time."""
        with self._within(conn) as tx:
            return records.ensure(tx, new_id(ENTERPRISE_PREFIX), uscc=record.uscc, name=record.name,
                                  status=record.status, region_code=record.region_code or "", now=self._clock.now())

    def link(self, person_id: str, enterprise_id: str, *, legal_representative: bool,
             conn: psycopg.Connection | None = None) -> EnterpriseLink:
        with self._within(conn) as tx:
            current = records.link(tx, person_id, enterprise_id, for_update=True)
            if (
                current is not None
                and current["status"] == STATUS_ACTIVE
                and (current["role"] == ROLE_LEGAL_REPRESENTATIVE or not legal_representative)
            ):
                return _build(current)  # never downgrade an existing active link
            if legal_representative:
                records.write_link(tx, person_id, enterprise_id, ROLE_LEGAL_REPRESENTATIVE, STATUS_ACTIVE,
                                   self._clock.now())
            elif current is None:
                records.write_link(tx, person_id, enterprise_id, ROLE_AGENT, STATUS_PENDING, self._clock.now())
            return _build(records.link(tx, person_id, enterprise_id))

    def approve_agent(self, legal_id: str, enterprise_id: str, agent_id: str, *,
                      conn: psycopg.Connection | None = None) -> EnterpriseLink:
        with self._within(conn) as tx:
            self._require_legal(tx, legal_id, enterprise_id)
            link = records.link(tx, agent_id, enterprise_id, for_update=True)
            if link is None:
                raise EnterpriseLinkRequired("该用户尚未申请关联本企业")
            if link["status"] != STATUS_ACTIVE:
                records.write_link(tx, agent_id, enterprise_id, link["role"], STATUS_ACTIVE, self._clock.now())
            return _build(records.link(tx, agent_id, enterprise_id))

    def unlink(self, actor_id: str, enterprise_id: str, member_id: str, *,
               conn: psycopg.Connection | None = None) -> None:
        """A person may leave an enterprise; a legal representative may remove anyone."""
        with self._within(conn) as tx:
            if actor_id != member_id:
                self._require_legal(tx, actor_id, enterprise_id)
            records.delete_link(tx, member_id, enterprise_id)

    @staticmethod
    def _require_legal(conn: psycopg.Connection, person_id: str, enterprise_id: str) -> EnterpriseLink:
        link = records.link(conn, person_id, enterprise_id)
        if link is None or link["status"] != STATUS_ACTIVE or link["role"] != ROLE_LEGAL_REPRESENTATIVE:
            raise EnterpriseLinkRequired("仅企业法定代表人可执行此操作")
        return _build(link)

    def can_act_for(self, person_id: str, enterprise_id: str) -> bool:
        link = self.get_link(person_id, enterprise_id)
        return link is not None and link.status == STATUS_ACTIVE

    def act_for(self, person_id: str, enterprise_id: str) -> None:
        """Raise EnterpriseLinkRequired unless ``person_id`` holds an active link to the enterprise."""
        if not self.can_act_for(person_id, enterprise_id):
            raise EnterpriseLinkRequired()

    def get_link(self, person_id: str, enterprise_id: str) -> EnterpriseLink | None:
        with self._database.transaction() as conn:
            link = records.link(conn, person_id, enterprise_id)
        return _build(link) if link else None

    def links(self, person_id: str) -> list[EnterpriseLink]:
        with self._database.transaction() as conn:
            return [_build(link) for link in records.links(conn, person_id)]


def _build(link: dict) -> EnterpriseLink:
    return EnterpriseLink(link["enterprise_id"], link["uscc"], link["name"], link["role"], link["status"],
                          link["linked_at"])
