"""Record in PostgreSQL what push's Redis scripts did to the consent ledger: one-time sends consumed by the
planner and by a dead-letter retry, sends refunded by a dead letter, quotas zeroed by upstream (43101).

Those changes happen first in Redis, inside the script that also enqueues or settles the messages, so a
message and the consent it spent are one atomic step. The record follows in bulk: the scripts return the
citizen indexes they touched, and one statement per batch (``consent_records.consume_many`` /
``refund_many``, ``UPDATE … FROM unnest(…)`` plus the history rows) records them.

**If that write fails** (PostgreSQL down or slow) it is logged and planning/dispatch go on: within the day
Redis is authoritative for consumption, and the messages are already queued. The cost is bounded and
explicit: until a later write succeeds the record shows those sends as still available, so a
``rebuild-targeting`` (which takes the record's view) would allow each unrecorded use once more, and
WeChat/Alipay would refuse the extra send (43101, which zeroes the quota). Failing the plan instead would
leave messages queued without their campaign finishing its plan, which is worse.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

from kernel.clock import Clock
from kernel.postgres import Database
from push import consent_records as records
from push.profiles import CitizenIndex
from push.templates import TemplateRegistry

log = logging.getLogger("msb.push.consent")


class ConsentUsage:
    def __init__(self, index: CitizenIndex, database: Database, templates: TemplateRegistry, clock: Clock) -> None:
        self._index = index
        self._database = database
        self._templates = templates
        self._clock = clock

    def consumed(self, channel: str, template_id: str, idxs: Sequence[int | str], *, source: str,
                 campaign_id: str | None) -> int:
        return self._bulk(records.consume_many, "consume", channel, template_id, idxs, source, campaign_id)

    def refunded(self, channel: str, template_id: str, idxs: Sequence[int | str], *, source: str,
                 campaign_id: str | None) -> int:
        return self._bulk(records.refund_many, "refund", channel, template_id, idxs, source, campaign_id)

    def revoked(self, channel: str, template_id: str, idxs: Sequence[int | str], *, source: str) -> int:
        """Upstream says the citizen has no quota (43101): rare, so one small transaction per citizen."""
        template = self._templates.find(channel, template_id)
        if template is None or not idxs:
            return 0
        done = 0
        try:
            for account_id in self._accounts(idxs):
                with self._database.transaction() as conn:
                    records.zero(conn, account_id, channel, template_id, template.kind, action="revoke", source=source,
                                 now=self._clock.now())
                done += 1
        except Exception as error:  # noqa: BLE001 - see the module docstring
            log.warning("consent change not recorded", extra={"fields": {
                "action": "revoke", "channel": channel, "template": template_id, "citizens": len(idxs) - done,
                "error": type(error).__name__}})
        return done

    def _accounts(self, idxs: Sequence[int | str]) -> list[str]:
        return [account for account in self._index.accounts([int(idx) for idx in idxs]) if account]

    def _bulk(self, write, action: str, channel: str, template_id: str, idxs: Sequence[int | str], source: str,
              campaign_id: str | None) -> int:
        if not idxs:
            return 0
        try:
            accounts = self._accounts(idxs)
            with self._database.transaction() as conn:
                return write(conn, accounts, channel, template_id, source=source, campaign_id=campaign_id,
                             now=self._clock.now())
        except Exception as error:  # noqa: BLE001 - see the module docstring
            log.warning("consent change not recorded", extra={"fields": {
                "action": action, "channel": channel, "template": template_id, "citizens": len(idxs),
                "campaign": campaign_id, "error": type(error).__name__}})
            return 0
