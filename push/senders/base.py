"""What a sender gets and returns. One sender per channel; the dispatcher owns retries and state."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from push.campaigns import Campaign

SENT, RETRY, FAILED, SKIPPED = "sent", "retry", "failed", "skipped"
# The claim was taken over before the request left (see push.dispatcher): nothing sent, nothing to record.
ABANDONED = "abandoned"


def _always() -> bool:
    return True


def message_id(campaign_id: str, channel: str, idx: int) -> str:
    """Deterministic: one id per campaign × citizen × channel, whoever sends it and however often."""
    return f"{campaign_id}.{channel}.{idx}"


def parse_message_id(value: str) -> tuple[str, str, int] | None:
    parts = value.split(".") if isinstance(value, str) else []
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


@dataclass(frozen=True)
class Outbound:
    campaign: Campaign
    channel: str
    idx: int
    account_id: str
    address: Any  # openid / Alipay open_id / {"token", "platform"} / True for the inbox
    message_id: str
    # Call right before writing the request; False = the claim is no longer ours: do not send.
    on_wire: Callable[[], bool] = field(default=_always, compare=False)
    # The same mark for senders writing through ``integrations.json_http`` (``before_write``): called
    # once connected, right before the write; None = do not send, else a function to call right after
    # the write. The dispatcher's hands the mark to the kernel before the write and reads its answer
    # after it, so the mark and the request leave within microseconds of each other.
    announce: Callable[[], Callable[[], bool] | None] | None = field(default=None, compare=False)

    def before_write(self) -> Callable[[], Callable[[], bool] | None]:
        if self.announce is not None:
            return self.announce
        return lambda: _always if self.on_wire() else None

    def __repr__(self) -> str:
        return f"Outbound(message_id={self.message_id!r})"


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | retry | failed | skipped
    code: str = "ok"  # upstream error code or our reason, for stats and dead letters
    msgid: str | None = None  # upstream message id (WeChat msgid)
    zero_consent: bool = False  # WeChat 43101 / Alipay "not subscribed": the ledger is wrong, zero it
    drop_address: bool = False  # APP token unknown/expired: forget the device
    counts_as_error: bool = True  # for the auto-pause error rate (a user's refusal is not an error)


class Sender(Protocol):
    channel: str

    def send(self, message: Outbound) -> Outcome: ...

    def render(self, campaign: Campaign, address: Any) -> dict[str, Any]: ...
