"""Domain exceptions of ``push/``.

Every class carries a stable snake_case ``code``, the intended ``http_status`` (class attribute, read
generically by the HTTP layer), a short Chinese ``message`` without personal data and machine-readable
``details``. ``headers`` holds response headers (none so far besides ``Retry-After``).
"""
from __future__ import annotations

from typing import Any

from kernel.errors import DomainError


class PushError(DomainError):
    code = "push_error"
    http_status = 400
    default_message = "请求无法处理"


# --- input -------------------------------------------------------------------------------------------


class InvalidInput(PushError):
    """A field failed validation; ``details["field"]`` names it (the value is never echoed)."""

    code = "invalid_input"
    http_status = 422
    default_message = "输入内容格式不正确"

    def __init__(self, field: str, message: str | None = None, **details: Any) -> None:
        super().__init__(message, details={"field": field, **details})


class InvalidTemplateData(InvalidInput):
    """A WeChat/Alipay template value breaks the channel's rule for its key (WeChat 47003 up front)."""

    code = "invalid_template_data"
    default_message = "消息模板内容不符合渠道规则"

    def __init__(self, field: str, rule: str, message: str | None = None) -> None:
        super().__init__(field, message or f"{field} 不符合规则：{rule}", rule=rule)


class UnknownTemplate(InvalidInput):
    code = "unknown_template"
    default_message = "未登记的消息模板"


class UnknownRegion(InvalidInput):
    code = "unknown_region"
    default_message = "未知的行政区划代码"


class UnknownItem(InvalidInput):
    code = "unknown_item"
    default_message = "未知的事项编码"


class TooManyEvents(PushError):
    code = "too_many_events"
    http_status = 413
    default_message = "单次上报的行为事件过多"

    def __init__(self, limit: int) -> None:
        super().__init__(details={"max_batch": limit})


# --- operators and campaigns -------------------------------------------------------------------------


class OperatorRoleRequired(PushError):
    code = "operator_role_required"
    http_status = 403
    default_message = "没有执行该操作的权限"

    def __init__(self, role: str) -> None:
        super().__init__(details={"required_role": role})


class ApproverIsAuthor(PushError):
    """Four eyes: the approver created or edited the campaign (content, audience, schedule, …)."""

    code = "approver_is_author"
    http_status = 403
    default_message = "您创建或修改过该活动，不能审批，请由未参与编写的审批人审批"


class CampaignNotFound(PushError):
    code = "campaign_not_found"
    http_status = 404
    default_message = "未找到该推送活动"

    def __init__(self, campaign_id: str) -> None:
        super().__init__(details={"campaign_id": campaign_id})


class CampaignStateConflict(PushError):
    """The action is not allowed in the campaign's current status (or it changed under us)."""

    code = "campaign_state_conflict"
    http_status = 409
    default_message = "推送活动当前状态不允许该操作"

    def __init__(self, action: str, status: str, allowed_from: tuple[str, ...] = ()) -> None:
        super().__init__(details={"action": action, "status": status, "allowed_from": list(allowed_from)})


class CampaignNotEditable(CampaignStateConflict):
    code = "campaign_not_editable"
    default_message = "已开始发送或已结束的推送活动不能修改"


class VersionConflict(PushError):
    code = "version_conflict"
    http_status = 409
    default_message = "推送活动已被他人修改，请刷新后重试"

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(details={"expected_version": expected, "version": actual})


# --- dead letters -------------------------------------------------------------------------------------


class DeadLetterNotFound(PushError):
    code = "dead_letter_not_found"
    http_status = 404
    default_message = "未找到该死信记录"


class DeadLetterAlreadyRetried(PushError):
    code = "already_retried"
    http_status = 409
    default_message = "该死信已重新发送过，不能重复操作"

    def __init__(self, entry_id: str) -> None:
        super().__init__(details={"entry_id": entry_id})


class DeadLetterNotRetryable(PushError):
    """Nothing in the entry may be sent again: sent meanwhile, outcome unknown (never re-sent), in flight,
    no subscription left, not a retries-exhausted message, or the campaign's window is over."""

    code = "dead_letter_not_retryable"
    http_status = 409
    default_message = "该死信中的消息不能再次发送"

    def __init__(self, entry_id: str, reasons: dict[str, int]) -> None:
        super().__init__(details={"entry_id": entry_id, "reasons": reasons})


# --- citizens -----------------------------------------------------------------------------------------


class CitizenNotFound(PushError):
    code = "citizen_not_found"
    http_status = 404
    default_message = "未找到该用户"


class MessageNotFound(PushError):
    code = "message_not_found"
    http_status = 404
    default_message = "未找到该消息"


class ChannelUnavailable(PushError):
    code = "channel_unavailable"
    http_status = 409
    default_message = "该推送渠道当前不可用"

    def __init__(self, channel: str) -> None:
        super().__init__(details={"channel": channel})


# --- WeChat pushed events -----------------------------------------------------------------------------


class EventSignatureInvalid(PushError):
    """Signature, timestamp window or nonce replay check failed: the request is not from WeChat."""

    code = "event_signature_invalid"
    http_status = 401
    default_message = "消息签名校验失败"

    def __init__(self, reason: str) -> None:
        super().__init__(details={"reason": reason})


class EventMalformed(PushError):
    code = "event_malformed"
    http_status = 400
    default_message = "消息格式不正确"
