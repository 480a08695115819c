"""What ``AccountStore`` hands out: identities, bindings, summaries and views of an account (masked only)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auth.enterprises import EnterpriseLink
from auth.preferences import Preferences
from auth.realname import LEVEL_NAMES

REALNAME_CHANNEL = "realname"


@dataclass(frozen=True)
class Identity:
    kind: str  # an index kind: wechat_openid, wechat_unionid, alipay_open_id, alipay_user_id, phone, id_number
    value: str

    def __repr__(self) -> str:
        return f"Identity(kind={self.kind!r}, value=<hidden>)"


@dataclass(frozen=True)
class Binding:
    binding_id: str  # "{channel}:{fingerprint}"
    channel: str
    masked: str | None  # masked phone or ID number; None for WeChat/Alipay ids (never shown)
    bound_at: float
    via: str | None

    @property
    def fingerprint(self) -> str:
        return self.binding_id.split(":", 1)[1]

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.binding_id,
            "channel": self.channel,
            "fingerprint": self.fingerprint,
            "masked": self.masked,
            "bound_at": int(self.bound_at),
        }


@dataclass(frozen=True)
class AccountSummary:
    id: str
    type: str
    realname_level: int | None
    bindings: tuple[str, ...]  # channel names

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "type": self.type,
            "realname_level": self.realname_level,
            "bindings": list(self.bindings),
        }


@dataclass(frozen=True)
class AccountView:
    """What ``GET /v1/me`` shows: masked values only."""

    id: str
    type: str
    realname_level: int
    name_masked: str | None
    id_number_masked: str | None
    phones_masked: tuple[str, ...]
    bindings: tuple[Binding, ...]
    enterprises: tuple[EnterpriseLink, ...]
    preferences: Preferences

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "type": self.type,
            "realname_level": self.realname_level,
            "realname_level_name": LEVEL_NAMES[self.realname_level],
            "name_masked": self.name_masked,
            "id_number_masked": self.id_number_masked,
            "phones_masked": list(self.phones_masked),
            "bindings": [binding.to_dict() for binding in self.bindings],
            "enterprises": [link.to_dict() for link in self.enterprises],
            "preferences": self.preferences.to_dict(),
        }


@dataclass(frozen=True)
class Attachment:
    account_id: str  # the account now holding the binding (a survivor if merges happened)
    created: bool  # a new account was opened
    merged: tuple[str, ...]  # ids absorbed on the way
    new_binding: bool = False  # the binding did not exist on the account before (a channel was added)
    binding_id: str = ""


def binding_from(binding_id: str, record: dict[str, Any]) -> Binding:
    return Binding(binding_id, record["channel"], record.get("masked"), record["bound_at"], record.get("via"))
