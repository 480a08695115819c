"""Security notices: tell the account holder, on every channel they have, when their account changes.

Every merge, every added login method, every real-name change and every recovery is announced to
the account it happened to: an SMS to each bound phone (through ``SmsGateway.send_security_notice``)
and a message in the in-app inbox (through notice listeners: ``auth/`` owns no inbox; the app
factory wires push's public ``deliver_account_notice``). The words are plain Chinese a citizen
understands and always say what to do when it was not them ("这不是我": 12345 or the recovery flow).

A failing channel is logged and skipped: a notice never undoes or fails the change it reports. Inside an
account change's transaction (``work``) the inbox notice is written to the outbox with the change itself.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from typing import TYPE_CHECKING

from auth.ports import SmsGateway
from kernel.clock import Clock
from kernel.events import EventBus
from kernel.outbox import Outbox

if TYPE_CHECKING:
    from auth.accounts import AccountWork

log = logging.getLogger("msb.auth.notices")

CHINA = ZoneInfo("Asia/Shanghai")
CHANNEL_NAMES = {"wechat": "微信", "alipay": "支付宝", "phone": "手机号"}
NOT_ME = (
    "如果这不是您本人的操作：请立即拨打12345政务服务便民热线，或打开蒙速办“我的—账号安全—这不是我”，"
    "刷脸确认是您本人后，移除不认识的登录方式，其他手机上的登录会全部退出。请不要把验证码告诉任何人。"
)

# event -> (short SMS phrase completing "您的账号…", inbox sentence); both free of personal data.
_EVENTS = {
    "merged": ("与另一个账号合并了", "与另一个蒙速办账号合并了，那个账号的登录方式现在也能进入您的账号"),
    "realname_verified": ("完成了实名认证", "完成了实名认证"),
    "realname_attempt": (
        "被他人尝试实名",
        "被人用您的姓名和身份证号尝试在另一个账号上实名认证，系统已拦截，对方看不到您的任何信息",
    ),
    "bindings_evicted": ("移除了登录方式", "已按您本人的人脸核验移除了不认识的登录方式，其他设备已全部退出登录"),
    "face_verified": ("完成了人脸核验", "完成了人脸核验（四级实名）"),
}
SMS_EVENTS = frozenset({"merged", "realname_verified", "bindings_evicted", "binding_added"})


@dataclass(frozen=True)
class Notice:
    notice_id: str
    event: str
    title: str
    text: str
    at: float

    def to_dict(self) -> dict[str, object]:
        return {"notice_id": self.notice_id, "title": self.title, "text": self.text, "at": self.at}


# Published for every notice; push delivers it to the inbox (subscribed in the composition root).
ACCOUNT_NOTICE = "account.security_notice"


def phrases(event: str) -> tuple[str, str]:
    if event.startswith("binding_added:"):
        name = CHANNEL_NAMES.get(event.split(":", 1)[1], "新的")
        return f"新增了{name}登录", f"新增了{name}登录方式，以后用它也能进入您的账号"
    return _EVENTS[event]


class SecurityNotices:
    def __init__(self, sms: SmsGateway, clock: Clock, phones: Callable[[str], list[str]], events: EventBus,
                 outbox: Outbox | None = None) -> None:
        self._sms = sms
        self._clock = clock
        self._phones = phones
        self._events = events
        self._outbox = outbox

    def build(self, event: str) -> Notice:
        short, sentence = phrases(event)
        now = self._clock.now()
        when = datetime.fromtimestamp(now, CHINA).strftime("%Y年%m月%d日 %H:%M")
        text = f"您的蒙速办账号在{when}{sentence}。如果是您本人操作，不用处理。{NOT_ME}"
        return Notice(f"security-{secrets.token_hex(8)}", event, f"账号安全提醒：{short}", text, now)

    def notify(self, account_id: str, event: str, *, work: AccountWork | None = None) -> Notice:
        """With ``work`` (the account change's transaction) the inbox notice is written to the outbox with
        the change and the SMS goes once it committed; without, both go at once."""
        notice = self.build(event)
        data = {"account_id": account_id, "kind": notice.event, **notice.to_dict()}
        if work is not None and self._outbox is not None:
            work.add_event(self._outbox, ACCOUNT_NOTICE, **data)
            work.after_commit.append(lambda: self._send_sms(account_id, event))
            return notice
        # The bus isolates subscribers: the inbox being down never fails the identity change.
        self._events.publish(ACCOUNT_NOTICE, **data)
        self._send_sms(account_id, event)
        return notice

    def _send_sms(self, account_id: str, event: str) -> None:
        if event.split(":", 1)[0] not in SMS_EVENTS:
            return
        short, _ = phrases(event)
        for phone in self._phones(account_id):
            try:
                self._sms.send_security_notice(phone, short)
            except Exception as exc:
                log.warning("sms notice failed", extra={"fields": {"error_class": type(exc).__name__}})
