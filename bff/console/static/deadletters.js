// Dead letters of one campaign: messages whose retries ran out, and a 重试 button that sends an entry's
// messages back to the queue once (the API refuses a second retry, a finished or cancelled campaign, and
// anything that may already have reached the phone).
import * as api from "./api.js";
import { CHANNEL, formatTime, h, number } from "./ui.js";

const NOT_RETRYABLE = {
  sent: "已发送",
  unknown: "结果未知（可能已送达，不再重发）",
  in_flight: "正在发送",
  no_consent: "用户已无订阅次数",
  not_dead: "非重试耗尽的消息",
  campaign_window_over: "活动已过结束时间",
};

function retriedText(retried, accountName) {
  return `已于 ${formatTime(retried.at)} 由 ${accountName(retried.actor, retried.actor_name)} 重试（${retried.requeued} 条）`;
}

export function deadLetterSection(campaign, { canRetry, errorBox, accountName, onRetried }) {
  const box = h("div", { id: "dead-letters" }, h("p", { class: "loading", text: "正在加载…" }));
  const result = h("div", { class: "action-result", id: "dead-letter-result", "aria-live": "polite" });
  const section = h("section", { "aria-labelledby": "sec-dead" },
    h("h2", { id: "sec-dead", text: "死信（重试耗尽的消息）" }), result, box);

  async function retry(entry, button) {
    button.disabled = true;
    result.replaceChildren();
    try {
      const answer = await api.post(`/v1/admin/dead-letters/${encodeURIComponent(entry.id)}/retry`);
      const paused = answer.status === "paused" ? "活动已暂停，恢复发送后发出。" : "";
      result.replaceChildren(h("p", { class: "notice", role: "status", text: `已重新排队 ${answer.requeued} 条消息。${paused}` }));
      refresh();
      if (onRetried) onRetried();
    } catch (err) {
      const reasons = Object.entries((err.details || {}).reasons || {})
        .map(([reason, n]) => `${NOT_RETRYABLE[reason] || reason} ${n} 条`);
      const failure = errorBox(err);
      failure.dataset.code = err.code || "";
      if (reasons.length) failure.append(h("p", { text: `不能重发：${reasons.join("；")}` }));
      result.replaceChildren(failure);
      failure.focus();
      button.disabled = false;
    }
  }

  function render(entries) {
    if (!entries.length) return h("p", { class: "empty", text: "没有死信。" });
    return h("table", { class: "data", id: "dead-letter-table" },
      h("caption", { text: `共 ${entries.length} 条死信记录（最新在前）` }),
      h("thead", {}, h("tr", {}, ["时间", "渠道", "错误码", "尝试次数", "消息数", "处理"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, entries.map((e) => {
        let handling;
        if (e.retried) handling = h("span", { class: "retried", text: retriedText(e.retried, accountName) });
        else if (canRetry) {
          handling = h("button", { type: "button", class: "btn", "aria-label": `重试 ${formatTime(e.at)} 的死信`, text: "重试" });
          handling.addEventListener("click", () => retry(e, handling));
        } else handling = h("span", { text: "—" });
        return h("tr", { dataset: { id: e.id } },
          h("td", { text: formatTime(e.at) }),
          h("td", { text: CHANNEL[e.channel] || e.channel }),
          h("td", { text: e.code }),
          h("td", { class: "num", text: number(e.attempts) }),
          h("td", { class: "num", text: number(e.messages) }),
          h("td", {}, handling));
      })));
  }

  function refresh() {
    return api.get(`/v1/admin/dead-letters?campaign_id=${encodeURIComponent(campaign.id)}&limit=200`)
      .then((data) => box.replaceChildren(render(api.listOf(data, "items"))))
      .catch((err) => box.replaceChildren(errorBox(err)));
  }

  refresh();
  return section;
}
