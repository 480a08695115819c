"""Enterprise (法人) flows of ``AuthService``: linking as legal representative or agent, approving agents,
unlinking, and acting for an enterprise. A mixin so ``auth.service`` stays readable; it uses the
service's stores and helpers.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import psycopg

from auth.enterprises import EnterpriseLink
from auth.errors import (EnterpriseInactive, EnterpriseLinkRequired, EnterpriseNotFound, RealnameLevelRequired,
                         TokenInvalid)
from auth.identifiers import normalize_uscc
from auth.rate_limits import ENTERPRISE_LOOKUP_DAILY
from auth.realname import RealnameLevel
from auth.session_types import AccessGrant, Principal

if TYPE_CHECKING:
    from auth.service import AuthService

ENTERPRISE_ACTIVE = "active"


class EnterpriseFlows:
    """Mixed into ``AuthService``."""

    @contextmanager
    def _link_changing(self: AuthService, account_id: str) -> Iterator[psycopg.Connection]:
        """One transaction for a link change and the ``account.changed`` it owes push (its enterprise flag)."""
        with self.accounts.work() as work:
            yield work.conn
            self._changed_in(work, account_id)

    def link_enterprise(self: AuthService, account_id: str, uscc: str) -> EnterpriseLink:
        """Link a person (三级 or above) to an enterprise: active as legal representative when the
        register's match API confirms the verified name AND ID number, otherwise a pending agent
        link (a same-name person never becomes legal representative)."""
        account_id = self.accounts.resolve(account_id)
        level = self.accounts.level(account_id)
        if level < RealnameLevel.VERIFIED:
            raise RealnameLevelRequired(required=int(RealnameLevel.VERIFIED), current=level)
        uscc = normalize_uscc(uscc)
        self.limiter.hit((ENTERPRISE_LOOKUP_DAILY, f"account:{account_id}"))
        record = self._identity.lookup_enterprise(uscc)
        if record is None:
            raise EnterpriseNotFound()
        if record.status != ENTERPRISE_ACTIVE:
            raise EnterpriseInactive()
        enterprise_id = self.enterprises.ensure(record)
        identity = self.accounts.realname_identity(account_id)
        is_legal = identity is not None and self._identity.verify_legal_representative(uscc, *identity)
        with self._link_changing(account_id) as conn:
            link = self.enterprises.link(account_id, enterprise_id, legal_representative=is_legal, conn=conn)
        self.audit.record(
            "enterprise_link", account_id=account_id, enterprise=enterprise_id, role=link.role, status=link.status
        )
        return link

    def approve_enterprise_agent(self: AuthService, account_id: str, enterprise_id: str, agent_account_id: str) -> EnterpriseLink:
        account_id = self.accounts.resolve(account_id)
        agent_account_id = self.accounts.resolve(agent_account_id)
        with self._link_changing(agent_account_id) as conn:
            link = self.enterprises.approve_agent(account_id, enterprise_id, agent_account_id, conn=conn)
        self.audit.record(
            "enterprise_link",
            account_id=agent_account_id,
            related_account_id=account_id,
            enterprise=enterprise_id,
            role=link.role,
            status=link.status,
        )
        return link

    def unlink_enterprise(self: AuthService, account_id: str, enterprise_id: str, member_account_id: str | None = None) -> None:
        account_id = self.accounts.resolve(account_id)
        member = self.accounts.resolve(member_account_id) if member_account_id else account_id
        with self._link_changing(member) as conn:
            self.enterprises.unlink(account_id, enterprise_id, member, conn=conn)
        self.audit.record(
            "enterprise_unlink", account_id=member, related_account_id=account_id, enterprise=enterprise_id
        )

    def act_for(self: AuthService, principal: Principal, enterprise_id: str | None) -> AccessGrant:
        """Switch the session's acting context to an enterprise (or back with None); returns a new
        access token. Later refreshes keep the context while the link stays active."""
        if principal.type != "person":
            raise EnterpriseLinkRequired()
        if enterprise_id is not None:
            self.enterprises.act_for(principal.account_id, enterprise_id)
        if not self.refresh_tokens.set_acting_for(principal.session_id, enterprise_id):
            raise TokenInvalid()
        family = self.refresh_tokens.family(principal.session_id)
        if family is None:
            raise TokenInvalid()
        level = self.accounts.level(principal.account_id)  # the stored level, not the principal's possibly older copy
        access = self._issue_person(principal.account_id, family, level=level, acting_for=enterprise_id)
        self.audit.record(
            "acting_for", account_id=principal.account_id, channel=principal.channel, enterprise=enterprise_id or "self"
        )
        return AccessGrant(access.token, access.expires_in, enterprise_id)
