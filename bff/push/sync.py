"""Push's copy of a citizen, made on the first push call of one it has never seen."""
from __future__ import annotations

import logging

from push.service import PushService

log = logging.getLogger("msb.push.http")


def ensure_synced(service: PushService, account_id: str) -> None:
    """A citizen who signed in before push existed has no push profile yet: sync before answering."""
    if service.profiles.for_account(account_id) is None:
        try:
            service.sync_citizen(account_id)
        except Exception as error:
            log.warning("push sync failed", extra={"fields": {"error_class": type(error).__name__}})
