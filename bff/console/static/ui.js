// Small DOM helpers: elements are built with textContent (never innerHTML with data), labels,
// Chinese names for statuses, roles and channels, times.

export function h(tag, attrs = {}, ...children) {
  const ns = attrs && attrs.ns;
  const el = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false || name === "ns") continue;
    if (name === "class") el.setAttribute("class", value);
    else if (name === "text") el.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name in el && !ns && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
export const nextId = (prefix = "f") => `${prefix}-${++uid}`;

// A labelled form control; returns the wrapper. `control` gets an id tied to the label.
export function field(labelText, control, hint) {
  const id = control.id || nextId("f");
  control.id = id;
  const parts = [h("label", { for: id, text: labelText }), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("p", { class: "hint", id: hintId, text: hint }));
  }
  return h("div", { class: "field" }, parts);
}

let toastTimer = 0;
export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  el.className = `toast toast-${kind} toast-show`;
  el.textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("toast-show"), 5000);
}

export const STATUS = {
  draft: "草稿",
  submitted: "待审批",
  approved: "已批准",
  scheduled: "已排期",
  running: "发送中",
  paused: "已暂停",
  cancelled: "已取消",
  finished: "已完成",
};

export const ROLE = { editor: "编辑", approver: "审批人", admin: "管理员" };

export const CHANNEL = { wechat: "微信订阅消息", alipay: "支付宝消息", app: "APP 推送", inbox: "站内信" };

export const CATEGORY = { service: "服务通知", policy: "政策通知", marketing: "营销推广" };

export const ACTION = {
  create: "创建",
  update: "修改",
  submit: "提交审批",
  approve: "审批通过",
  reject: "退回",
  schedule: "排期",
  start: "开始发送",
  pause: "暂停",
  resume: "恢复",
  cancel: "取消",
  finish: "发送完成",
  retry_dead_letter: "重发死信",
  plan: "生成发送计划",
};

export const SKIP = {
  opted_out: "用户退订",
  no_channel_address: "无渠道地址",
  duplicate: "重复",
  frequency_cap: "频次上限",
  not_subscribed: "未订阅",
  quota_exhausted: "渠道当日配额用尽",
};

export function statusBadge(status) {
  return h("span", { class: `badge badge-${status}`, text: STATUS[status] || status });
}

const pad = (n) => String(n).padStart(2, "0");

export function formatTime(seconds) {
  if (!seconds) return "—";
  const d = new Date(seconds * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// <input type="datetime-local"> value <-> epoch seconds (the browser's time zone).
export function toLocalInput(seconds) {
  if (!seconds) return "";
  const d = new Date(seconds * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(value) {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? Math.round(ms / 1000) : null;
}

export const number = (n) => (typeof n === "number" ? n.toLocaleString("zh-CN") : "—");

export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
