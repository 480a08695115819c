// Message templates known to the console and the per-channel mockups: a WeChat subscribe-message
// card, an Alipay mini-program message, an APP notification banner and an inbox entry. Plain HTML/CSS,
// rebuilt from the form state on every keystroke.
import { h } from "./ui.js";

// Mirrors push/templates.py DEFAULT_TEMPLATES (the sandbox's); labels are what the user sees.
export const TEMPLATES = {
  wechat: {
    wx_tpl_service_reminder: {
      title: "办事提醒",
      kind: "one_time",
      keys: ["thing1", "phrase2", "time3", "thing4"],
      labels: { thing1: "事项名称", phrase2: "办理状态", time3: "截止时间", thing4: "温馨提示" },
    },
    wx_tpl_policy_notice: {
      title: "政策通知",
      kind: "long_term",
      keys: ["thing1", "thing2", "time3"],
      labels: { thing1: "通知主题", thing2: "通知内容", time3: "发布时间" },
    },
    wx_tpl_progress: {
      title: "办件进度通知",
      kind: "one_time",
      keys: ["character_string1", "thing2", "phrase3", "date4"],
      labels: { character_string1: "办件编号", thing2: "事项名称", phrase3: "办理进度", date4: "更新日期" },
    },
  },
  alipay: {
    ali_tpl_policy_notice: {
      title: "政策通知",
      kind: "long_term",
      keys: ["keyword1", "keyword2", "keyword3"],
      labels: { keyword1: "通知主题", keyword2: "通知内容", keyword3: "发布时间" },
    },
    ali_tpl_service_reminder: {
      title: "办事提醒",
      kind: "one_time",
      keys: ["keyword1", "keyword2"],
      labels: { keyword1: "事项名称", keyword2: "温馨提示" },
    },
  },
};

// WeChat value rules by key prefix (push/templates.py WECHAT_RULES), for hints and maxlength.
export const WECHAT_RULES = {
  thing: { max: 20, hint: "20 个以内字符" },
  phrase: { max: 5, hint: "5 个以内汉字" },
  character_string: { max: 32, hint: "32 位以内数字、字母或符号" },
  time: { max: 40, hint: "24 小时制时间，可带日期，如 2026年3月31日 17:00" },
  date: { max: 40, hint: "日期，如 2026年3月31日" },
  number: { max: 32, hint: "32 位以内数字" },
  amount: { max: 14, hint: "金额，如 ¥12.50" },
  name: { max: 20, hint: "10 个以内汉字" },
};

export function ruleFor(key) {
  const prefix = key.replace(/\d+$/, "");
  return WECHAT_RULES[prefix] || { max: 50, hint: "" };
}

export function templateLabel(channel, templateId, key) {
  const template = (TEMPLATES[channel] || {})[templateId];
  return (template && template.labels && template.labels[key]) || key;
}

// Merge what the API lists (if it has a templates endpoint) into the built-in table.
export function mergeTemplates(list) {
  for (const t of list || []) {
    if (!t || !TEMPLATES[t.channel] || !t.template_id || !Array.isArray(t.keys)) continue;
    const known = TEMPLATES[t.channel][t.template_id] || { labels: {} };
    TEMPLATES[t.channel][t.template_id] = { ...known, title: t.title || known.title, kind: t.kind || known.kind, keys: t.keys };
  }
}

const valueOf = (entry) => (entry && typeof entry === "object" ? entry.value : entry) || "";

function wechatCard(content, page) {
  const template = TEMPLATES.wechat[content.template_id] || { title: "订阅消息", keys: Object.keys(content.data || {}), labels: {} };
  return h(
    "article",
    { class: "mock mock-wechat", "aria-label": "微信订阅消息预览" },
    h("header", { class: "mock-wechat-head" },
      h("span", { class: "mock-app-icon", "aria-hidden": "true", text: "蒙" }),
      h("span", { class: "mock-wechat-app", text: "蒙速办" }),
      h("span", { class: "mock-wechat-kind", text: "小程序订阅消息" })),
    h("h4", { class: "mock-wechat-title", text: template.title }),
    h("dl", { class: "mock-rows" },
      template.keys.map((key) => [
        h("dt", { text: templateLabel("wechat", content.template_id, key) }),
        h("dd", { text: valueOf((content.data || {})[key]) || "（未填写）" }),
      ])),
    h("footer", { class: "mock-wechat-foot" },
      h("span", { text: "进入小程序查看" }),
      h("span", { "aria-hidden": "true", text: "›" })),
    page ? h("p", { class: "mock-page", text: `跳转：${page}` }) : null,
  );
}

function alipayCard(content, page) {
  const template = TEMPLATES.alipay[content.template_id] || { title: "消息", keys: Object.keys(content.data || {}), labels: {} };
  return h(
    "article",
    { class: "mock mock-alipay", "aria-label": "支付宝消息预览" },
    h("header", { class: "mock-alipay-head" },
      h("span", { class: "mock-app-icon mock-app-icon-alipay", "aria-hidden": "true", text: "蒙" }),
      h("span", { text: "蒙速办 · 支付宝小程序" })),
    h("h4", { class: "mock-alipay-title", text: template.title }),
    h("dl", { class: "mock-rows" },
      template.keys.map((key) => [
        h("dt", { text: templateLabel("alipay", content.template_id, key) }),
        h("dd", { text: valueOf((content.data || {})[key]) || "（未填写）" }),
      ])),
    h("footer", { class: "mock-alipay-foot", text: "查看详情" }),
    page ? h("p", { class: "mock-page", text: `跳转：${page}` }) : null,
  );
}

function appBanner(content) {
  return h(
    "article",
    { class: "mock mock-app", "aria-label": "APP 通知预览" },
    h("div", { class: "mock-app-screen" },
      h("p", { class: "mock-app-clock", "aria-hidden": "true", text: "09:41" }),
      h("div", { class: "mock-app-banner" },
        h("header", { class: "mock-app-banner-head" },
          h("span", { class: "mock-app-icon mock-app-icon-small", "aria-hidden": "true", text: "蒙" }),
          h("span", { text: "蒙速办" }),
          h("span", { class: "mock-app-when", text: "现在" })),
        h("p", { class: "mock-app-title", text: content.title || "（标题）" }),
        h("p", { class: "mock-app-body", text: content.body || "（正文）" }))),
  );
}

function inboxEntry(content, category) {
  return h(
    "article",
    { class: "mock mock-inbox", "aria-label": "站内信预览" },
    h("header", { class: "mock-inbox-head" },
      h("span", { class: "mock-inbox-dot", "aria-hidden": "true" }),
      h("span", { class: "mock-inbox-kind", text: category === "service" ? "服务通知" : "消息" }),
      h("span", { class: "mock-inbox-when", text: "刚刚" })),
    h("p", { class: "mock-inbox-title", text: content.title || "（标题）" }),
    h("p", { class: "mock-inbox-text", text: content.text || "（正文）" }),
  );
}

// spec: {category, channels, content, page}; returns one figure per channel.
export function renderPreviews(spec) {
  const channels = [...(spec.channels || [])];
  if (spec.category === "service" && !channels.includes("inbox")) channels.push("inbox");
  const figures = channels.map((channel) => {
    const content = (spec.content || {})[channel] || {};
    const page = content.page || spec.page;
    let mock;
    if (channel === "wechat") mock = wechatCard(content, page);
    else if (channel === "alipay") mock = alipayCard(content, page);
    else if (channel === "app") mock = appBanner(content);
    else mock = inboxEntry(content, spec.category);
    const names = { wechat: "微信订阅消息", alipay: "支付宝消息", app: "APP 通知", inbox: "站内信" };
    return h("figure", { class: `preview preview-${channel}`, dataset: { channel } },
      mock, h("figcaption", { text: names[channel] }));
  });
  if (!figures.length) return [h("p", { class: "hint", text: "选择渠道后在此预览消息效果。" })];
  return figures;
}
