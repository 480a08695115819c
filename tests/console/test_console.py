"""The operator console in headless Chromium against the BFF (gunicorn) and the push worker.

Flows: log in; create a campaign with content for every channel and watch the live mockups; build the
audience and see its size follow the rules; submit; the author (who is also an approver) finds
approval disabled and refused by the API; a second operator approves and schedules; the worker sends
and the stats page follows; pause, resume and cancel; lockout message; keyboard-only login; token
refresh on 401; CSP, labels and contrast.
"""
from __future__ import annotations

import re
from datetime import date

import pytest
import requests
from playwright.sync_api import expect

from tests.console.conftest import BAOTOU_COUNTY, HOHHOT, POLICY, REMINDER, XINCHENG, login, save_artifact

pytestmark = pytest.mark.timeout(120)

# Colour contrast (WCAG 1.4.3) of every visible text node against its first opaque ancestor background,
# and an accessible name for every form control (WCAG 1.3.1 / 4.1.2).
A11Y_SCRIPT = """
() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = ({r, g, b}) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bgOf = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0.5) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const low = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || el.closest('[hidden], .visually-hidden, svg, option, .toast')) continue;
    const rect = el.getBoundingClientRect(); if (!rect.width || !rect.height) continue;
    const style = getComputedStyle(el); if (style.visibility === 'hidden' || style.display === 'none') continue;
    const fg = parse(style.color), bg = bgOf(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) low.push(`${n.textContent.trim().slice(0, 20)} (${ratio.toFixed(2)})`);
  }
  const unlabelled = [...document.querySelectorAll('input, select, textarea, button')].filter((el) => {
    if (el.type === 'hidden' || el.closest('[hidden]')) return false;
    const name = el.labels && el.labels.length ? el.labels[0].textContent : (el.getAttribute('aria-label') || el.textContent || '');
    return !name.trim();
  }).map((el) => el.id || el.outerHTML.slice(0, 60));
  return {low, unlabelled};
}
"""


def check_a11y(page) -> None:
    result = page.evaluate(A11Y_SCRIPT)
    assert result == {"low": [], "unlabelled": []}, result
    assert page.evaluate("document.documentElement.lang") == "zh-CN"


def api_call(page, method: str, path: str, body=None) -> dict:
    """Call the API from the page with the operator's in-memory token (as the console does)."""
    return page.evaluate(
        """async ([method, path, body]) => {
            const token = JSON.parse(sessionStorage.getItem('msb.console.session')).access_token;
            const r = await fetch(path, {method, headers: {'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'},
                                          body: body === null ? undefined : JSON.stringify(body)});
            return {status: r.status, body: await r.json()};
        }""", [method, path, body])


def assert_clean(*pages, expected_statuses: tuple[int, ...] = ()) -> None:
    """No script errors, no CSP violations, no failed requests except the statuses a test provoked."""
    allowed = tuple(f"status of {status}" for status in expected_statuses)
    problems = [p for page in pages for p in page.problems if not any(a in p for a in allowed)]
    assert problems == [], problems


def status_badge(page):
    return page.locator(".meta .badge")


@pytest.fixture(scope="module")
def people(stack):
    """5 citizens: 3 in 呼和浩特 (aged about 26, 36 and 66, subscribed to both templates), 2 in 包头."""
    today = date.today()
    hohhot = [stack.citizen(region=XINCHENG, birth=date(today.year - age, 1, 15), subscribe={REMINDER: 1, POLICY: 1})
              for age in (26, 36, 66)]
    baotou = [stack.citizen(region=BAOTOU_COUNTY, subscribe={REMINDER: 1}) for _ in range(2)]
    return {"hohhot": hohhot, "baotou": baotou}


def test_console_is_static_with_a_strict_csp(stack) -> None:
    page = requests.get(f"{stack.url}/console/", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert '<html lang="zh-CN">' in page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), "inline script"
    assert " style=" not in page.text and not re.search(r"\son[a-z]+=", page.text), "inline style or handler"
    redirect = requests.get(f"{stack.url}/console", timeout=5, allow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["Location"].endswith("/console/")
    script = requests.get(f"{stack.url}/console/static/app.js", timeout=5)
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
    assert script.headers["Content-Security-Policy"] == csp
    assert "localStorage." not in requests.get(f"{stack.url}/console/static/api.js", timeout=5).text
    assert requests.get(f"{stack.url}/console/static/../__init__.py", timeout=5).status_code == 404
    spec = requests.get(f"{stack.url}/openapi.json", timeout=5).json()
    assert not any(path.startswith("/console") for path in spec["paths"])


def test_campaign_from_draft_to_sent_across_two_operators(stack, people, new_page, tmp_path) -> None:
    alice = stack.operator("ops.alice", "editor", "approver")  # may approve, but never her own campaign
    bob = stack.operator("ops.bob", "approver")

    # --- Alice writes the campaign ------------------------------------------------------------------
    page = new_page()
    login(page, alice)
    expect(page.locator("#who-roles")).to_have_text("编辑、审批人")
    check_a11y(page)
    page.get_by_role("link", name="新建活动").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("新建推送活动")
    page.get_by_label("活动名称").fill("养老金资格认证提醒（呼和浩特）")
    page.get_by_label("消息类别").select_option("policy")
    page.get_by_label("目标页面（可选）").fill("pages/item/detail?code=B0096")
    for channel in ("alipay", "app", "inbox"):
        page.locator(f"#channel-{channel}").check()
    page.locator("#wechat-template").select_option(REMINDER)
    page.locator("#wechat-thing1").fill("养老金资格认证")
    page.locator("#wechat-phrase2").fill("待办理")
    page.locator("#wechat-time3").fill("2026年3月31日 17:00")
    page.locator("#wechat-thing4").fill("请在月底前完成认证")
    page.locator("#alipay-template").select_option("ali_tpl_service_reminder")
    page.locator("#alipay-keyword1").fill("养老金资格认证")
    page.locator("#alipay-keyword2").fill("请在3月31日前通过蒙速办完成刷脸认证")
    page.locator("#app-title").fill("养老金资格认证提醒")
    page.locator("#app-body").fill("您的年度养老金资格认证尚未完成，点击即可刷脸认证。")
    page.locator("#inbox-title").fill("养老金资格认证提醒")
    page.locator("#inbox-text").fill("请在 3 月 31 日前完成年度养老金资格认证，逾期将暂停发放。")
    page.get_by_label("每位市民最多收到几条").fill("2")

    # The mockups follow the form.
    preview = page.locator("#live-preview")
    wechat_card = preview.locator(".mock-wechat")
    expect(wechat_card.locator(".mock-wechat-title")).to_have_text("办事提醒")
    expect(wechat_card).to_contain_text("养老金资格认证")
    expect(wechat_card).to_contain_text("待办理")
    expect(preview.locator(".mock-alipay")).to_contain_text("请在3月31日前通过蒙速办完成刷脸认证")
    expect(preview.locator(".mock-app .mock-app-title")).to_have_text("养老金资格认证提醒")
    expect(preview.locator(".mock-inbox .mock-inbox-title")).to_have_text("养老金资格认证提醒")
    page.locator("#wechat-thing4").fill("请尽快完成认证")
    expect(wechat_card).to_contain_text("请尽快完成认证")

    # The audience size follows the rules: everyone, then 呼和浩特, then ages, then 呼和浩特 again.
    size = page.locator("#audience-size")
    expect(size).to_have_attribute("data-value", "5")
    page.locator(f"#region-{HOHHOT}").check()
    expect(size).to_have_attribute("data-value", "3")
    expect(page.locator("#regions-summary")).to_have_text("已选择：呼和浩特市")
    page.get_by_label("最小年龄").fill("30")
    expect(size).to_have_attribute("data-value", "2")
    page.get_by_label("最大年龄").fill("40")
    expect(size).to_have_attribute("data-value", "1")
    page.get_by_label("最小年龄").fill("")
    page.get_by_label("最大年龄").fill("")
    expect(size).to_have_attribute("data-value", "3")
    page.get_by_label("法人（企业）").check()
    expect(size).to_have_attribute("data-value", "0")
    page.get_by_label("不限", exact=True).check()
    expect(size).to_have_attribute("data-value", "3")
    expect(page.locator("#audience-size-note")).to_contain_text("微信订阅消息 3 人")
    check_a11y(page)

    shot = tmp_path / "console-preview.png"
    page.evaluate("window.scrollTo(0, 0); document.getElementById('toast').classList.remove('toast-show')")
    preview.screenshot(path=str(shot), animations="disabled")  # (no `style=`: the CSP blocks injected styles)
    save_artifact(shot, "console-preview.png")

    page.get_by_role("button", name="保存草稿").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("养老金资格认证提醒（呼和浩特）")
    expect(status_badge(page)).to_have_text("草稿")
    campaign_id = page.evaluate("location.hash").split("/")[2]

    # Edit the draft: the form comes back as saved (rules included), and the change is versioned.
    page.get_by_role("link", name="编辑").click()
    expect(page.get_by_label("活动名称")).to_have_value("养老金资格认证提醒（呼和浩特）")
    expect(page.locator(f"#region-{HOHHOT}")).to_be_checked()
    expect(page.locator("#wechat-thing4")).to_have_value("请尽快完成认证")
    expect(size).to_have_attribute("data-value", "3")
    page.get_by_label("备注（可选）").fill("社保中心 3 月专项")
    page.get_by_role("button", name="保存修改").click()
    expect(page.locator(".meta")).to_contain_text("社保中心 3 月专项")
    expect(page.locator("#preview-audience")).to_have_text("3")
    expect(page.locator("#preview-channels tr[data-channel=wechat] td").nth(1)).to_have_text("3")
    expect(page.locator("#campaign-preview .mock-wechat")).to_contain_text("请尽快完成认证")
    check_a11y(page)

    page.get_by_role("button", name="提交审批").click()
    expect(status_badge(page)).to_have_text("待审批")
    approve = page.get_by_role("button", name="审批通过")
    expect(approve).to_be_disabled()
    expect(page.locator(".why")).to_contain_text("您创建或修改过该活动，不能审批")
    version = api_call(page, "GET", f"/v1/admin/campaigns/{campaign_id}")["body"]["version"]
    refused = api_call(page, "POST", f"/v1/admin/campaigns/{campaign_id}/approve", {"version": version})
    assert refused["status"] == 403 and refused["body"]["error"] == "approver_is_author", refused
    expect(page.get_by_role("link", name="编辑")).to_have_count(0)  # the console edits drafts only

    # --- Bob approves and schedules ---------------------------------------------------------------------
    other = new_page()
    login(other, bob)
    row = other.locator(f"#campaign-table tr[data-id='{campaign_id}']")
    expect(row.locator(".badge")).to_have_text("待审批")
    expect(other.get_by_role("link", name="新建活动")).to_have_count(0)  # approvers do not author
    check_a11y(other)
    row.get_by_role("link").click()
    other.get_by_role("button", name="审批通过").click()
    expect(status_badge(other)).to_have_text("已批准")
    other.get_by_role("button", name="排期发送").click()
    other.get_by_role("button", name="确认排期").click()
    # The worker starts and finishes it; the page follows the status by itself.
    expect(status_badge(other)).to_have_text("已完成", timeout=20_000)
    audit = other.locator("#audit-table tbody tr")
    expect(audit.last).to_have_attribute("data-action", "finish")
    actions = [audit.nth(i).get_attribute("data-action") for i in range(audit.count())]
    assert actions[:6] == ["create", "update", "submit", "approve", "schedule", "start"], actions
    expect(audit.nth(1).locator("td").nth(4)).to_have_text("修改：备注")
    expect(audit.nth(3).locator("td").nth(1)).to_have_text("ops.bob（我）")
    expect(audit.nth(3).locator("td").nth(3)).to_have_text("待审批 → 已批准")
    expect(audit.last.locator("td").nth(1)).to_have_text("系统")

    # --- stats --------------------------------------------------------------------------------------------
    other.get_by_role("link", name="查看发送统计").click()
    figures = other.locator("#stats-figures")
    expect(figures.locator("[data-metric=sent] dd")).to_have_attribute("data-value", "6")  # WeChat + inbox, 3 each
    expect(figures.locator("[data-metric=planned] dd")).to_have_attribute("data-value", "6")
    expect(figures.locator("[data-metric=skipped] dd")).to_have_attribute("data-value", "6")  # no Alipay, no device
    expect(other.locator(".chart-series-sent")).to_have_attribute("data-total", "6")
    assert len(stack.drive("GET", "/wechat/messages", openid=people["hohhot"][0]["openid"])["messages"]) == 1
    # WeChat reports deliveries to our push URL; a citizen opens the inbox message.
    stack.feed_wechat_events()
    stack.push.mark_inbox_read(people["hohhot"][0]["account_id"])
    other.get_by_role("button", name="立即刷新").click()
    expect(figures.locator("[data-metric=delivered] dd")).to_have_attribute("data-value", "3")
    expect(figures.locator("[data-metric=opened] dd")).to_have_attribute("data-value", "1")
    expect(other.locator(".chart-series-delivered")).to_have_attribute("data-total", "3")
    check_a11y(other)
    other.evaluate("document.getElementById('toast').classList.remove('toast-show')")
    other.locator("main").screenshot(path=str(tmp_path / "console-stats.png"), animations="disabled")
    save_artifact(tmp_path / "console-stats.png", "console-stats.png")

    # The list shows the key figures.
    other.get_by_role("link", name="推送活动").click()
    expect(row.locator("td[data-col=sent]")).to_have_text("6")
    expect(row.locator(".badge")).to_have_text("已完成")
    assert_clean(page, expected_statuses=(403,))  # the refused self-approval
    assert_clean(other)


def _submitted_campaign(editor_page, name: str) -> str:
    spec = {"name": name, "category": "policy", "channels": ["wechat"], "audience": {"regions": [HOHHOT]},
            "content": {"wechat": {"template_id": POLICY, "data": {"thing1": "医保缴费提醒", "thing2": "2026年城乡居民医保开始缴费",
                                                                "time3": "2026年3月2日 09:00"}}}}
    created = api_call(editor_page, "POST", "/v1/admin/campaigns", spec)
    assert created["status"] == 201, created
    campaign_id = created["body"]["id"]
    assert api_call(editor_page, "POST", f"/v1/admin/campaigns/{campaign_id}/submit", {})["status"] == 200
    return campaign_id


def _approved_campaign(stack, editor_page, approver_page, name: str) -> str:
    campaign_id = _submitted_campaign(editor_page, name)
    version = api_call(approver_page, "GET", f"/v1/admin/campaigns/{campaign_id}")["body"]["version"]
    approved = api_call(approver_page, "POST", f"/v1/admin/campaigns/{campaign_id}/approve", {"version": version})
    assert approved["status"] == 200, approved
    return campaign_id


def test_pause_resume_while_sending_and_cancel(stack, people, new_page) -> None:
    carol = stack.operator("ops.carol", "editor")
    dan = stack.operator("ops.dan", "approver")
    page, approver = new_page(), new_page()
    login(page, carol)
    login(approver, dan)
    campaign_id = _approved_campaign(stack, page, approver, "医保缴费提醒")
    # WeChat is busy (errcode -1, retried with back-off): the campaign keeps running until it clears.
    stack.drive("POST", "/faults", {"endpoint": "wechat.subscribe_send", "times": None, "error": {"errcode": -1}})
    try:
        page.goto(f"/console/#/campaigns/{campaign_id}")
        expect(status_badge(page)).to_have_text("已批准")
        page.get_by_role("button", name="排期发送").click()
        page.get_by_role("button", name="确认排期").click()
        expect(status_badge(page)).to_have_text("发送中", timeout=15_000)
        page.get_by_role("button", name="暂停发送").click()
        expect(status_badge(page)).to_have_text("已暂停")
        expect(page.locator(".meta")).to_contain_text("运营人员手动暂停")
        stack.drive("DELETE", "/faults")
        page.get_by_role("link", name="查看发送统计").click()
        sent = page.locator("#stats-figures [data-metric=sent] dd")
        expect(sent).to_have_attribute("data-value", "0")
        page.get_by_role("link", name="‹ 返回活动详情").click()
        page.get_by_role("button", name="恢复发送").click()
        expect(status_badge(page)).to_have_text(re.compile("发送中|已完成"))
        # The stats page refreshes by itself while the campaign runs: no reload, no click.
        page.get_by_role("link", name="查看发送统计").click()
        expect(sent).to_have_attribute("data-value", "3", timeout=20_000)
        expect(page.locator("#stats-status .badge")).to_have_text("已完成", timeout=10_000)
        assert int(page.locator("#stats-channels td").nth(4).inner_text()) > 0  # the retries
    finally:
        stack.drive("DELETE", "/faults")

    # Cancel a scheduled-for-later campaign, with a reason, and find it in the audit trail.
    later = _approved_campaign(stack, page, approver, "医保缴费提醒（延后）")
    page.goto(f"/console/#/campaigns/{later}")
    page.get_by_role("button", name="排期发送").click()
    start = page.get_by_label("开始时间")
    start.fill("2099-01-01T09:00")
    page.get_by_role("button", name="确认排期").click()
    expect(status_badge(page)).to_have_text("已排期")
    page.get_by_role("button", name="取消活动").click()
    page.get_by_label("取消原因（可选）").fill("政策口径调整")
    page.get_by_role("button", name="确认取消活动").click()
    expect(status_badge(page)).to_have_text("已取消")
    cancel_row = page.locator("#audit-table tbody tr[data-action=cancel]")
    expect(cancel_row).to_contain_text("政策口径调整")
    expect(cancel_row).to_contain_text("ops.carol（我）")
    expect(page.get_by_role("button", name="取消活动")).to_have_count(0)

    # An approver sends a submission back with a reason; it is a draft again.
    returned = _submitted_campaign(page, "医保缴费提醒（待修改）")
    approver.goto(f"/console/#/campaigns/{returned}")
    approver.get_by_role("button", name="退回修改").click()
    approver.get_by_role("button", name="确认退回").click()  # a reason is required
    expect(approver.get_by_label("退回理由（必填）")).to_have_attribute("aria-invalid", "true")
    approver.get_by_label("退回理由（必填）").fill("缴费截止日期有误")
    approver.get_by_role("button", name="确认退回").click()
    expect(status_badge(approver)).to_have_text("草稿")
    expect(approver.locator(".meta")).to_contain_text("缴费截止日期有误")
    expect(approver.get_by_role("button", name="提交审批")).to_have_count(0)  # approvers do not author

    # An admin holds every role: the console offers authoring, and a finished campaign has no actions left.
    gina = stack.operator("ops.gina", "admin")
    reader = new_page()
    login(reader, gina)
    expect(reader.get_by_role("link", name="新建活动").first).to_be_visible()
    reader.goto(f"/console/#/campaigns/{campaign_id}")
    expect(status_badge(reader)).to_have_text("已完成")
    expect(reader.locator(".actions button")).to_have_count(0)
    expect(reader.get_by_role("link", name="查看发送统计")).to_be_visible()
    assert_clean(page, approver, reader)


def test_lockout_shows_a_clear_message(stack, new_page) -> None:
    erin = stack.operator("ops.erin", "editor")
    page = new_page()
    page.goto("/console/")
    error = page.locator("#login-error")
    for attempt in range(5):
        page.get_by_label("用户名").fill("ops.erin")
        page.get_by_label("密码").fill(f"wrong password {attempt}")
        page.get_by_role("button", name="登录").click()
        expected = "账号已被临时锁定" if attempt == 4 else "用户名或密码不正确"
        expect(error).to_contain_text(expected)
    expect(error).to_contain_text("15 分钟后再试")
    expect(error).to_have_attribute("data-code", "account_locked")
    expect(page.get_by_label("密码")).to_be_focused()
    # Even the right password is refused while locked.
    page.get_by_label("密码").fill(erin["password"])
    page.get_by_role("button", name="登录").click()
    expect(error).to_have_attribute("data-code", "account_locked")
    expect(page.locator("#who")).to_be_hidden()


def test_keyboard_only_login_refresh_on_401_and_logout(stack, new_page) -> None:
    frank = stack.operator("ops.frank", "editor")
    page = new_page()
    page.goto("/console/")
    username = page.get_by_label("用户名")
    expect(username).to_be_focused()  # the form is ready to type into
    page.keyboard.press("Shift+Tab")  # back to the first stop of the page: the skip link
    expect(page.locator(".skip-link")).to_be_focused()
    expect(page.locator(".skip-link")).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(username).to_be_focused()
    outline = username.evaluate("el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth")
    assert outline.startswith("solid") and outline != "solid 0px", outline  # focus is visible
    page.keyboard.type(frank["username"])
    page.keyboard.press("Tab")
    expect(page.get_by_label("密码")).to_be_focused()
    page.keyboard.type(frank["password"])
    page.keyboard.press("Enter")
    expect(page.locator("#who-name")).to_have_text("ops.frank")
    expect(page.get_by_role("heading", level=1)).to_have_text("推送活动")
    # Tokens live in sessionStorage, not localStorage.
    assert page.evaluate("localStorage.length") == 0
    assert "refresh_token" in page.evaluate("sessionStorage.getItem('msb.console.session')")
    # An expired/invalid access token is refreshed once, transparently.
    page.evaluate("""() => { const s = JSON.parse(sessionStorage.getItem('msb.console.session'));
        s.access_token = 'expired.' + s.access_token.split('.')[1] + '.x'; sessionStorage.setItem('msb.console.session', JSON.stringify(s)); }""")
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("推送活动")
    expect(page.locator("#who-name")).to_have_text("ops.frank")
    # Keyboard to the new-campaign page and out again.
    page.get_by_role("link", name="新建活动").first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("新建推送活动")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    page.get_by_role("button", name="退出登录").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("运营人员登录")
    assert page.evaluate("sessionStorage.getItem('msb.console.session')") is None
    assert_clean(page, expected_statuses=(401,))  # the stale token, refreshed
