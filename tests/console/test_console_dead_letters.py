"""Dead letters and operator names in the console: WeChat refuses every attempt, the message is
dead-lettered and the error rate pauses the campaign; an editor retries it from the campaign page (once),
resumes, and the citizen gets it exactly once. The audit trail and the list show usernames, not ids."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from push.campaigns import Actor
from tests.console.conftest import HOHHOT, POLICY, XINCHENG, login

pytestmark = pytest.mark.timeout(120)

# This module's own stack: two attempts a message, and two failed attempts pause the campaign.
PUSH_ENV_OVERRIDES = {"MSB_PUSH_MAX_ATTEMPTS": "2", "MSB_PUSH_PAUSE_MIN_ATTEMPTS": "2", "MSB_PUSH_PAUSE_ERROR_RATE": "0.5"}
POLICY_DATA = {"thing1": "医保缴费提醒", "thing2": "2026年城乡居民医保开始缴费", "time3": "2026年3月2日 09:00"}


def wait_for(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_an_editor_retries_a_dead_letter_once_and_sees_names(stack, new_page) -> None:
    erin, finn = stack.operator("ops.erin", "editor"), stack.operator("ops.finn", "approver")
    citizen = stack.citizen(region=XINCHENG, subscribe={POLICY: 1})
    editor, approver = Actor(erin["id"], ("editor",)), Actor(finn["id"], ("approver",))
    campaign = stack.push.create_campaign(editor, {
        "name": "医保缴费提醒（死信）", "category": "policy", "channels": ["wechat"], "audience": {"regions": [HOHHOT]},
        "content": {"wechat": {"template_id": POLICY, "data": POLICY_DATA}}})
    cid = campaign["id"]
    stack.push.submit_campaign(editor, cid)
    stack.push.approve_campaign(approver, cid)
    stack.drive("POST", "/faults", {"endpoint": "wechat.subscribe_send", "times": None, "error": {"errcode": -1}})
    try:
        stack.push.schedule_campaign(editor, cid)
        wait_for(lambda: stack.push.dead_letters(editor, campaign_id=cid))
    finally:
        stack.drive("DELETE", "/faults")

    page = new_page()
    login(page, erin)
    page.goto(f"/console/#/campaigns/{cid}")
    expect(page.locator(".meta .badge")).to_have_text("已暂停", timeout=15_000)
    expect(page.locator(".meta")).to_contain_text("ops.finn")  # the approver by name
    rows = page.locator("#dead-letter-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("微信订阅消息")
    rows.first.get_by_role("button", name="重试").click()
    expect(page.locator("#dead-letter-result")).to_contain_text("已重新排队 1 条消息。活动已暂停，恢复发送后发出。")
    expect(rows.first).to_contain_text("由 ops.erin（我） 重试（1 条）")
    expect(rows.first.get_by_role("button", name="重试")).to_have_count(0)  # once only
    retry_row = page.locator("#audit-table tbody tr[data-action=retry_dead_letter]")
    expect(retry_row).to_contain_text("ops.erin（我）")
    expect(retry_row).to_contain_text("重新排队 1 条（微信订阅消息）")
    expect(page.locator("#audit-table tbody tr[data-action=pause]")).to_contain_text("系统")

    page.get_by_role("button", name="恢复发送").click()
    expect(page.locator(".meta .badge")).to_have_text("已完成", timeout=20_000)
    screen = stack.drive("GET", "/wechat/messages", openid=citizen["openid"])["messages"]
    assert len(screen) == 1  # sent again, exactly once

    other = new_page()
    login(other, finn)
    other.goto(f"/console/#/campaigns/{cid}")
    expect(other.locator("#audit-table tbody tr[data-action=create]")).to_contain_text("ops.erin")
    assert erin["id"] not in other.locator("#audit-table").inner_text()
    expect(other.locator("#dead-letter-table tbody tr").first).to_contain_text("由 ops.erin 重试")
    other.goto("/console/#/campaigns")
    expect(other.locator(f"#campaign-table tr[data-id='{cid}'] td[data-col=author]")).to_have_text("ops.erin")
    assert page.problems == [] and other.problems == []
