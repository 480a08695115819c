// 蒙速办 push console: hash-routed pages over the admin API.
import * as api from "./api.js";
import { audienceBuilder } from "./audience.js";
import { barChart, lineChart } from "./chart.js";
import { deadLetterSection } from "./deadletters.js";
import { TEMPLATES, mergeTemplates, renderPreviews, ruleFor, templateLabel } from "./preview.js";
import {
  ACTION, CATEGORY, CHANNEL, ROLE, SKIP, STATUS, clear, debounce, field, formatTime, fromLocalInput, h, nextId,
  number, statusBadge, toLocalInput, toast,
} from "./ui.js";

const main = document.getElementById("main");
const CHANNELS = ["wechat", "alipay", "app", "inbox"];
const ROLE_ORDER = ["editor", "approver", "admin"];
const LIVE = new Set(["scheduled", "running", "paused"]);
const SENT_STATUSES = new Set(["running", "paused", "finished", "cancelled"]);
const POLL_MS = 2000;
const FIELD = {
  name: "名称", category: "类别", channels: "渠道", content: "内容", page: "目标页面", audience: "受众",
  schedule: "排期", max_per_citizen: "每人条数", note: "备注",
};
const PAUSE_REASON = { operator: "运营人员手动暂停", error_rate: "失败率过高，系统自动暂停" };
// The audience estimate endpoint (live size while rules change).
const ESTIMATE_PATH = "/v1/admin/audience/estimate";

let me = null;
let pollTimer = 0;
let routeToken = 0;
let templatesLoaded = false;

// --- roles -------------------------------------------------------------------------------------

// As the API checks them: admins hold every role (but, like everyone, never approve their own campaign).
const hasRole = (role) => Boolean(me && (me.roles.includes(role) || me.roles.includes("admin")));
const canEdit = () => hasRole("editor");
const canApprove = () => hasRole("approver");
const canOperate = () => hasRole("editor") || hasRole("approver");

// --- shell ---------------------------------------------------------------------------------------

function showShell(signedIn) {
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("who").hidden = !signedIn;
  if (signedIn && me) {
    document.getElementById("who-name").textContent = me.username;
    document.getElementById("who-roles").textContent = [...me.roles].sort((a, b) => ROLE_ORDER.indexOf(a) - ROLE_ORDER.indexOf(b)).map((r) => ROLE[r] || r).join("、");
    document.getElementById("nav-new").parentElement.hidden = !canEdit();
  }
}

function page(title, ...children) {
  document.title = `${title} · 蒙速办推送运营台`;
  const heading = h("h1", { tabindex: "-1", id: "page-title", text: title });
  clear(main, heading, ...children);
  return heading;
}

function focusHeading() {
  const heading = document.getElementById("page-title");
  if (heading) heading.focus({ preventScroll: false });
}

function errorBox(err) {
  const box = h("div", { class: "error-summary", role: "alert", tabindex: "-1" },
    h("p", { class: "error-title", text: describeError(err) }));
  const details = (err && err.details) || {};
  if (details.field) box.append(h("p", { text: `出错字段：${details.field}` }));
  // Request-shape errors (422 validation_failed) come as {json: {field: {nested: [messages]}}}.
  const lines = [];
  const walk = (node, path) => {
    if (Array.isArray(node)) lines.push(`${path}：${node.join("；")}`);
    else if (node && typeof node === "object") for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
  };
  walk(details.json, "");
  if (lines.length) box.append(h("ul", {}, lines.slice(0, 8).map((line) => h("li", { text: line }))));
  return box;
}

function describeError(err) {
  if (!err) return "操作失败";
  switch (err.code) {
    case "approver_is_author":
      return "审批被拒绝：您创建或修改过该活动，不能审批，请由未参与编写的审批人审批。";
    case "operator_role_required":
      return "没有执行该操作的权限。";
    case "campaign_state_conflict":
    case "campaign_not_editable":
      return `${err.message}（活动状态已变化，请刷新后重试）`;
    case "version_conflict":
      return "活动已被他人修改，请刷新页面后再编辑。";
    default:
      return err.message || "操作失败";
  }
}

// Operators by username (the API sends `*_name` beside every operator id); the id only if the name is unknown.
const accountName = (id, name) => (me && id === me.id ? `${me.username}（我）` : name || id || "—");

// --- login ---------------------------------------------------------------------------------------

function loginMessage(err) {
  if (err.status === 429) {
    const seconds = err.retryAfter || 0;
    const wait = seconds >= 60 ? `${Math.ceil(seconds / 60)} 分钟` : `${seconds || "若干"} 秒`;
    if (err.code === "account_locked") {
      return `密码错误次数过多，账号已被临时锁定。请 ${wait}后再试，或联系管理员解锁。`;
    }
    return `登录尝试过于频繁，请 ${wait}后再试。`;
  }
  if (err.status === 401 || err.code === "operator_credentials_invalid") {
    return "用户名或密码不正确。连续输错 5 次，账号将被锁定 15 分钟。";
  }
  if (err.status === 422 || err.status === 400) return "请输入用户名和密码。";
  return err.message || "登录失败，请稍后再试。";
}

function loginView(next) {
  showShell(false);
  const username = h("input", { type: "text", name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const error = h("div", { class: "login-error", id: "login-error", role: "alert", "aria-live": "assertive" });
  const submit = h("button", { type: "submit", class: "btn btn-primary", text: "登录" });
  const form = h("form", { class: "card login", novalidate: true, "aria-describedby": "login-error" },
    field("用户名", username), field("密码", password), error, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    for (const input of [username, password]) input.removeAttribute("aria-invalid");
    if (!username.value.trim() || !password.value) {
      error.textContent = "请输入用户名和密码。";
      (username.value.trim() ? password : username).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "正在登录…";
    try {
      await api.login(username.value.trim(), password.value);
      me = await api.get("/v1/admin/me");
      showShell(true);
      toast(`欢迎，${me.username}`);
      const target = next && next !== "#/login" ? next : "#/campaigns";
      if (location.hash === target) route();
      else location.hash = target;
    } catch (err) {
      error.textContent = loginMessage(err);
      error.dataset.code = err.code || "";
      if (err.status === 401) {
        username.setAttribute("aria-invalid", "true");
        password.setAttribute("aria-invalid", "true");
      }
      password.value = "";
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = "登录";
    }
  });
  page("运营人员登录", h("p", { class: "lead", text: "请使用运营账号登录。账号由管理员通过命令行创建。" }), form);
  username.focus();
}

// --- campaign list -----------------------------------------------------------------------------

async function listView(token) {
  const filter = h("select", { id: "status-filter" },
    h("option", { value: "", text: "全部状态" }),
    Object.entries(STATUS).map(([value, label]) => h("option", { value, text: label })));
  const wanted = new URLSearchParams(location.hash.split("?")[1] || "").get("status") || "";
  filter.value = wanted;
  filter.addEventListener("change", () => {
    location.hash = filter.value ? `#/campaigns?status=${filter.value}` : "#/campaigns";
  });
  const tools = h("div", { class: "toolbar" }, field("按状态筛选", filter),
    canEdit() ? h("a", { class: "btn btn-primary", href: "#/campaigns/new", text: "新建活动" }) : null);
  const holder = h("div", { class: "table-holder" }, h("p", { class: "loading", text: "正在加载…" }));
  const readOnly = !canOperate() ? h("p", { class: "notice", text: "您的账号可以查看全部推送活动、审计记录和统计；创建、审批、排期等操作需要“编辑”或“审批人”角色。" }) : null;
  page("推送活动", readOnly, tools, holder);
  let campaigns;
  try {
    campaigns = api.listOf(await api.get(`/v1/admin/campaigns${wanted ? `?status=${wanted}` : ""}`), "campaigns");
  } catch (err) {
    clear(holder, errorBox(err));
    return;
  }
  if (token !== routeToken) return;
  if (!campaigns.length) {
    clear(holder, h("p", { class: "empty", text: canEdit() ? "还没有推送活动。点击“新建活动”开始。" : "还没有推送活动。" }));
    return;
  }
  const rows = campaigns.map((c) => {
    const f = c.figures || {};
    const figure = (key) => h("td", { class: "num", dataset: { col: key }, text: number(f[key] ?? 0) });
    return h("tr", { dataset: { id: c.id } },
      h("th", { scope: "row" }, h("a", { href: `#/campaigns/${encodeURIComponent(c.id)}`, text: c.name })),
      h("td", { text: CATEGORY[c.category] || c.category }),
      h("td", { text: (c.effective_channels || c.channels || []).map((ch) => CHANNEL[ch] || ch).join("、") }),
      h("td", {}, statusBadge(c.status)),
      h("td", { dataset: { col: "author" }, text: accountName(c.author, c.author_name) }),
      h("td", { text: formatTime((c.schedule || {}).start_at || c.start_at) }),
      figure("planned"), figure("sent"), figure("delivered"), figure("failed"), figure("opened"),
      h("td", { text: formatTime(c.updated_at) }));
  });
  clear(holder, h("table", { class: "data", id: "campaign-table" },
    h("caption", { text: `共 ${campaigns.length} 个推送活动` }),
    h("thead", {}, h("tr", {}, ["名称", "类别", "渠道", "状态", "创建人", "开始时间", "计划", "已发送", "已送达", "失败", "已打开", "更新时间"].map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, rows)));
}

// --- campaign editor ---------------------------------------------------------------------------

function emptySpec() {
  return {
    name: "", category: "policy", channels: ["wechat"], content: {}, page: "", audience: {},
    schedule: { start_at: null, end_at: null }, max_per_citizen: 1, note: "",
  };
}

function channelContentFields(channel, content, onInput) {
  const box = h("fieldset", { class: "sub channel-content", dataset: { channel } }, h("legend", { text: `${CHANNEL[channel]}内容` }));
  const inputs = {};
  const bind = (el) => { el.addEventListener(el.tagName === "SELECT" ? "change" : "input", onInput); return el; };
  if (channel === "wechat" || channel === "alipay") {
    const select = bind(h("select", { id: `${channel}-template` },
      Object.entries(TEMPLATES[channel]).map(([id, t]) => h("option", { value: id, text: `${t.title}（${t.kind === "long_term" ? "长期订阅" : "一次性订阅"}）` }))));
    select.value = content.template_id && TEMPLATES[channel][content.template_id] ? content.template_id : Object.keys(TEMPLATES[channel])[0];
    const dataBox = h("div", { class: "template-fields" });
    const values = Object.fromEntries(Object.entries(content.data || {}).map(([k, v]) => [k, v && typeof v === "object" ? v.value : v]));
    const renderKeys = () => {
      inputs.data = {};
      dataBox.replaceChildren(...TEMPLATES[channel][select.value].keys.map((key) => {
        const rule = channel === "wechat" ? ruleFor(key) : { max: 50, hint: "50 个以内字符" };
        const input = bind(h("input", { type: "text", id: `${channel}-${key}`, maxlength: String(rule.max), dataset: { key } }));
        input.value = values[key] || "";
        input.addEventListener("input", () => { values[key] = input.value; });
        inputs.data[key] = input;
        return field(`${templateLabel(channel, select.value, key)}（${key}）`, input, rule.hint);
      }));
    };
    select.addEventListener("change", () => { renderKeys(); onInput(); });
    renderKeys();
    const pageInput = bind(h("input", { type: "text", id: `${channel}-page`, placeholder: "pages/item/detail?code=…" }));
    pageInput.value = content.page || "";
    inputs.template = select;
    inputs.page = pageInput;
    box.append(field("消息模板", select), dataBox, field("点击后打开的小程序页面（可选）", pageInput, "留空则使用活动的目标页面"));
  } else {
    const title = bind(h("input", { type: "text", id: `${channel}-title`, maxlength: "50", required: true }));
    title.value = content.title || "";
    const bodyName = channel === "app" ? "body" : "text";
    const body = bind(h("textarea", { id: `${channel}-${bodyName}`, rows: "3", maxlength: channel === "app" ? "256" : "1000", required: true }));
    body.value = content[bodyName] || "";
    inputs.title = title;
    inputs[bodyName] = body;
    box.append(field("标题", title, "50 个字符以内"), field("正文", body, channel === "app" ? "256 个字符以内" : "1000 个字符以内"));
  }
  box.read = () => {
    if (channel === "wechat" || channel === "alipay") {
      const data = {};
      for (const [key, input] of Object.entries(inputs.data)) data[key] = input.value;
      const out = { template_id: inputs.template.value, data };
      if (inputs.page.value.trim()) out.page = inputs.page.value.trim();
      if (channel === "wechat" && content.miniprogram_state) out.miniprogram_state = content.miniprogram_state;
      return out;
    }
    if (channel === "app") {
      const out = { title: inputs.title.value, body: inputs.body.value };
      if (content.payload && Object.keys(content.payload).length) out.payload = content.payload;
      return out;
    }
    return { title: inputs.title.value, text: inputs.text.value };
  };
  return box;
}

async function editorView(token, campaignId) {
  let campaign = null;
  if (campaignId) {
    page("编辑推送活动", h("p", { class: "loading", text: "正在加载…" }));
    try {
      campaign = await api.get(`/v1/admin/campaigns/${encodeURIComponent(campaignId)}`);
    } catch (err) {
      page("编辑推送活动", errorBox(err));
      return;
    }
    if (token !== routeToken) return;
    if (campaign.status !== "draft") {
      page("编辑推送活动", h("p", { class: "notice", text: "只有草稿状态的活动可以修改。" }),
        h("a", { href: `#/campaigns/${encodeURIComponent(campaignId)}`, text: "返回活动详情" }));
      return;
    }
  }
  if (!canEdit()) {
    page(campaignId ? "编辑推送活动" : "新建推送活动", h("p", { class: "notice", text: "只有编辑角色可以创建或修改推送活动。" }));
    return;
  }
  const spec = campaign ? {
    ...emptySpec(), ...campaign,
    schedule: campaign.schedule || { start_at: campaign.start_at, end_at: campaign.end_at },
  } : emptySpec();

  const errors = h("div", { class: "form-errors" });
  let changedFields = (body) => Object.keys(body);
  const name = h("input", { type: "text", id: "campaign-name", maxlength: "60", required: true });
  name.value = spec.name;
  const category = h("select", { id: "campaign-category" },
    Object.entries(CATEGORY).map(([value, label]) => h("option", { value, text: label })));
  category.value = spec.category;
  const pageInput = h("input", { type: "text", id: "campaign-page", placeholder: "pages/item/detail?code=B0096" });
  pageInput.value = spec.page || "";
  const note = h("textarea", { id: "campaign-note", rows: "2", maxlength: "500" });
  note.value = spec.note || "";

  // channels + content
  const channelChecks = CHANNELS.map((channel) => {
    const input = h("input", { type: "checkbox", id: `channel-${channel}`, value: channel, checked: spec.channels.includes(channel) });
    return input;
  });
  const contentBoxes = {};
  const contentHolder = h("div", { class: "channel-contents" });
  const cap = h("input", { type: "number", id: "campaign-cap", min: "1", max: "4", inputmode: "numeric", class: "narrow" });
  cap.value = String(spec.max_per_citizen || 1);

  const previewHolder = h("div", { class: "previews", id: "live-preview" });
  const sizeOut = h("output", { id: "audience-size", class: "audience-size", "aria-live": "polite", text: "—" });
  const sizeNote = h("p", { class: "hint", id: "audience-size-note" });

  const selectedChannels = () => channelChecks.filter((c) => c.checked).map((c) => c.value);
  const effectiveChannels = () => {
    const chosen = selectedChannels();
    return category.value === "service" && !chosen.includes("inbox") ? [...chosen, "inbox"] : chosen;
  };

  function syncContentBoxes() {
    const wanted = effectiveChannels();
    for (const channel of CHANNELS) {
      if (wanted.includes(channel) && !contentBoxes[channel]) {
        contentBoxes[channel] = channelContentFields(channel, (spec.content || {})[channel] || {}, update);
      }
    }
    // Only touch the DOM when the set changes: removing a focused field would blur it mid-typing.
    const boxes = wanted.map((ch) => contentBoxes[ch]);
    const current = [...contentHolder.children];
    if (boxes.length !== current.length || boxes.some((box, i) => box !== current[i])) contentHolder.replaceChildren(...boxes);
    cap.max = String(Math.max(1, selectedChannels().length));
    if (Number(cap.value) > Number(cap.max)) cap.value = cap.max;
  }

  const startInput = h("input", { type: "datetime-local", id: "campaign-start" });
  const endInput = h("input", { type: "datetime-local", id: "campaign-end" });
  startInput.value = toLocalInput(spec.schedule.start_at);
  endInput.value = toLocalInput(spec.schedule.end_at);

  const audience = audienceBuilder(() => { update(); estimate(); });
  audience.setRules(spec.audience || {});

  function read() {
    const channels = selectedChannels();
    const content = {};
    for (const channel of effectiveChannels()) content[channel] = contentBoxes[channel].read();
    const out = {
      name: name.value.trim(), category: category.value, channels, content,
      page: pageInput.value.trim() || null, audience: audience.rules(),
      schedule: { start_at: fromLocalInput(startInput.value), end_at: fromLocalInput(endInput.value) },
      max_per_citizen: Math.max(1, Math.min(Number(cap.value) || 1, channels.length || 1)),
      note: note.value.trim(),
    };
    return out;
  }

  function update() {
    syncContentBoxes();
    previewHolder.replaceChildren(...renderPreviews(read()));
  }

  let estimateSeq = 0;
  const estimate = debounce(async () => {
    const seq = ++estimateSeq;
    sizeOut.dataset.state = "loading";
    sizeNote.textContent = "正在估算…";
    try {
      const rules = audience.rules();
      const result = await api.post(ESTIMATE_PATH, { audience: rules, category: category.value });
      if (seq !== estimateSeq) return;
      const size = result.audience;
      sizeOut.textContent = `${number(size)} 人`;
      sizeOut.dataset.value = String(size);
      const reachable = Object.entries(result.reachable || {})
        .filter(([ch]) => effectiveChannels().includes(ch))
        .map(([ch, n]) => `${CHANNEL[ch] || ch} ${number(n)} 人`);
      sizeNote.textContent = `按当前规则匹配的市民人数。${reachable.length ? `可触达：${reachable.join("，")}。` : ""}发送前还会核对订阅授权、频次和配额。`;
    } catch (err) {
      if (seq !== estimateSeq) return;
      sizeOut.textContent = "—";
      sizeOut.dataset.value = "";
      sizeNote.textContent = `无法估算：${describeError(err)}`;
    } finally {
      if (seq === estimateSeq) sizeOut.dataset.state = "done";
    }
  }, 250);

  for (const el of [name, pageInput, note, cap, startInput, endInput]) el.addEventListener("input", update);
  category.addEventListener("change", () => { update(); estimate(); });
  for (const c of channelChecks) c.addEventListener("change", () => { update(); estimate(); });

  const save = h("button", { type: "submit", class: "btn btn-primary", id: "save-campaign", text: campaign ? "保存修改" : "保存草稿" });
  const form = h("form", { class: "editor", novalidate: true },
    errors,
    h("fieldset", {}, h("legend", { text: "基本信息" }),
      field("活动名称", name, "1–60 个字符，仅运营人员可见"),
      field("消息类别", category, "服务通知不可退订，并总会投递到站内信；政策和营销受用户退订与每日上限约束"),
      field("目标页面（可选）", pageInput, "用户点击消息后打开的页面路径"),
      field("备注（可选）", note)),
    h("fieldset", {}, h("legend", { text: "渠道与内容" }),
      h("div", { class: "checks", role: "group", "aria-label": "发送渠道（按勾选顺序优先）" },
        channelChecks.map((c) => h("div", { class: "check" }, c, h("label", { for: c.id, text: CHANNEL[c.value] })))),
      contentHolder),
    h("fieldset", {}, h("legend", { text: "受众" }),
      h("div", { class: "audience-live" }, h("span", { text: "预计受众：" }), sizeOut, sizeNote),
      audience.element),
    h("fieldset", {}, h("legend", { text: "排期与频次" }),
      h("div", { class: "inline" },
        field("开始时间", startInput, "留空表示审批后排期时立即开始"),
        field("结束时间", endInput, "窗口不超过 90 天；到期未发出的消息不再发送")),
      field("每位市民最多收到几条", cap, "在所选渠道中按顺序尝试，1 表示只发第一个可用渠道")),
    h("div", { class: "actions" }, save,
      h("a", { class: "btn btn-quiet", href: campaign ? `#/campaigns/${encodeURIComponent(campaign.id)}` : "#/campaigns", text: "取消" })));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.replaceChildren();
    const body = read();
    save.disabled = true;
    try {
      let saved;
      if (campaign) {
        const changes = Object.fromEntries(changedFields(body).map((k) => [k, body[k]]));
        saved = await api.patch(`/v1/admin/campaigns/${encodeURIComponent(campaign.id)}`, { ...changes, version: campaign.version });
      } else {
        saved = await api.post("/v1/admin/campaigns", body);
      }
      toast(campaign ? "修改已保存" : "草稿已创建");
      location.hash = `#/campaigns/${encodeURIComponent(saved.id)}`;
    } catch (err) {
      const box = errorBox(err);
      errors.replaceChildren(box);
      box.focus();
    } finally {
      save.disabled = false;
    }
  });

  page(campaign ? `编辑：${campaign.name}` : "新建推送活动",
    h("div", { class: "editor-layout" },
      form,
      h("aside", { class: "preview-panel", "aria-labelledby": "preview-title" },
        h("h2", { id: "preview-title", text: "消息预览" }),
        h("p", { class: "hint", text: "随输入实时更新，仅为示意，实际样式以各客户端为准。" }),
        previewHolder)));
  update();
  estimate();
  // PATCH sends only what changed, so the audit trail names the fields really edited.
  const initial = Object.fromEntries(Object.entries(read()).map(([k, v]) => [k, JSON.stringify(v)]));
  changedFields = (body) => Object.keys(body).filter((k) => JSON.stringify(body[k]) !== initial[k]);
  if (!campaign) name.focus();
}

// --- campaign detail -----------------------------------------------------------------------------

function actionsFor(campaign, reload) {
  const id = encodeURIComponent(campaign.id);
  const bar = h("div", { class: "actions", role: "group", "aria-label": "活动操作" });
  const panel = h("div", { class: "action-panel" });
  const result = h("div", { class: "action-result", "aria-live": "polite" });
  // Four eyes: whoever created or edited the campaign may not approve it (the API enforces it too).
  const isAuthor = me && (campaign.authors || [campaign.author]).includes(me.id);

  async function act(action, body, doneText) {
    result.replaceChildren();
    for (const b of bar.querySelectorAll("button")) b.disabled = true;
    try {
      await api.post(`/v1/admin/campaigns/${id}/${action}`, body);
      toast(doneText);
      await reload();
    } catch (err) {
      const box = errorBox(err);
      box.dataset.code = err.code || "";
      result.replaceChildren(box);
      box.focus();
      for (const b of bar.querySelectorAll("button")) b.disabled = b.dataset.locked === "1";
    }
  }

  function button(label, action, onClick, opts = {}) {
    const b = h("button", { type: "button", class: `btn ${opts.primary ? "btn-primary" : ""} ${opts.danger ? "btn-danger" : ""}`, dataset: { action }, text: label, onclick: onClick });
    if (opts.disabled) {
      b.disabled = true;
      b.dataset.locked = "1";
      if (opts.why) {
        const whyId = nextId("why");
        b.setAttribute("aria-describedby", whyId);
        bar.append(b, h("p", { class: "why", id: whyId, text: opts.why }));
        return b;
      }
    }
    bar.append(b);
    return b;
  }

  function reasonForm(title, label, action, confirmText, doneText, required) {
    const input = h("textarea", { id: `${action}-reason`, rows: "2", maxlength: "200" });
    const go = h("button", { type: "submit", class: "btn btn-primary", text: confirmText });
    const form = h("form", { class: "card inline-form", novalidate: true },
      h("h3", { text: title }), field(label, input), h("div", { class: "actions" }, go,
        h("button", { type: "button", class: "btn btn-quiet", text: "返回", onclick: () => panel.replaceChildren() })));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (required && !input.value.trim()) {
        input.setAttribute("aria-invalid", "true");
        result.replaceChildren(h("p", { class: "error-text", role: "alert", text: "请填写理由。" }));
        input.focus();
        return;
      }
      const body = input.value.trim() ? { reason: input.value.trim() } : {};
      act(action, body, doneText);
    });
    panel.replaceChildren(form);
    input.focus();
  }

  const s = campaign.status;
  if (s === "draft" && canEdit()) {
    bar.append(h("a", { class: "btn", href: `#/campaigns/${id}/edit`, text: "编辑" }));
    button("提交审批", "submit", () => act("submit", {}, "已提交审批"), { primary: true });
  }
  if (s === "submitted" && canApprove()) {
    const why = isAuthor ? "您创建或修改过该活动，不能审批，请由未参与编写的审批人审批。" : null;
    // The approval names the version on screen: if someone edited it meanwhile, the API answers 409.
    button("审批通过", "approve", () => act("approve", { version: campaign.version }, "已审批通过"), { primary: true, disabled: isAuthor, why });
    button("退回修改", "reject", () => reasonForm("退回修改", "退回理由（必填）", "reject", "确认退回", "已退回", true), { disabled: isAuthor });
  }
  if (s === "approved" && canOperate()) {
    button("排期发送", "schedule", () => {
      const start = h("input", { type: "datetime-local", id: "schedule-start" });
      const end = h("input", { type: "datetime-local", id: "schedule-end" });
      start.value = toLocalInput(campaign.schedule && campaign.schedule.start_at);
      end.value = toLocalInput(campaign.schedule && campaign.schedule.end_at);
      const go = h("button", { type: "submit", class: "btn btn-primary", id: "confirm-schedule", text: "确认排期" });
      const form = h("form", { class: "card inline-form", novalidate: true },
        h("h3", { text: "排期发送" }),
        h("div", { class: "inline" }, field("开始时间", start, "留空表示立即开始"), field("结束时间（可选）", end)),
        h("div", { class: "actions" }, go, h("button", { type: "button", class: "btn btn-quiet", text: "返回", onclick: () => panel.replaceChildren() })));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const body = {};
        const startAt = fromLocalInput(start.value);
        const endAt = fromLocalInput(end.value);
        if (startAt) body.start_at = startAt;
        if (endAt) body.end_at = endAt;
        act("schedule", body, "已排期");
      });
      panel.replaceChildren(form);
      start.focus();
    }, { primary: true });
  }
  if (s === "running" && canOperate()) button("暂停发送", "pause", () => act("pause", { reason: "operator" }, "已暂停"));
  if (s === "paused" && canOperate()) button("恢复发送", "resume", () => act("resume", {}, "已恢复发送"), { primary: true });
  if (!["cancelled", "finished"].includes(s) && canOperate()) {
    button("取消活动", "cancel", () => reasonForm("取消活动", "取消原因（可选）", "cancel", "确认取消活动", "活动已取消", false), { danger: true });
  }
  if (!["draft", "submitted", "approved"].includes(s)) {
    bar.append(h("a", { class: "btn", href: `#/campaigns/${id}/stats`, text: "查看发送统计" }));
  }
  if (!bar.childElementCount) bar.append(h("p", { class: "hint", text: "当前状态下您没有可执行的操作。" }));
  return h("div", {}, bar, panel, result);
}

function auditTable(entries) {
  if (!entries.length) return h("p", { class: "empty", text: "暂无记录" });
  return h("table", { class: "data", id: "audit-table" },
    h("caption", { text: "操作记录（按时间先后）" }),
    h("thead", {}, h("tr", {}, ["时间", "操作人", "操作", "状态变化", "说明"].map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, entries.map((e, i) => {
      const changes = e.changes || {};
      // Entries are oldest first: a missing "from" is the status the previous entry left.
      const from = e.from !== undefined ? e.from : i > 0 ? entries[i - 1].to : null;
      const notes = [];
      if (changes.reason) notes.push(`理由：${changes.reason}`);
      if (changes.fields) notes.push(`修改：${[].concat(changes.fields).map((f) => FIELD[f] || f).join("、")}`);
      if (changes.start_at) notes.push(`开始：${formatTime(changes.start_at)}`);
      if (e.action === "retry_dead_letter") notes.push(`重新排队 ${changes.requeued} 条（${CHANNEL[changes.channel] || changes.channel}）`);
      return h("tr", { dataset: { action: e.action } },
        h("td", { text: formatTime(e.at) }),
        h("td", { text: e.actor === "system" ? "系统" : accountName(e.actor, e.actor_name) }),
        h("td", { text: ACTION[e.action] || e.action }),
        h("td", { text: from && from !== e.to ? `${STATUS[from] || from} → ${STATUS[e.to] || e.to}` : STATUS[e.to] || e.to || "—" }),
        h("td", { text: notes.join("；") }));
    })));
}

function previewSummary(preview) {
  const channels = Object.values(preview.channels || {});
  return h("div", {},
    h("dl", { class: "figures" },
      h("div", {}, h("dt", { text: "受众人数" }), h("dd", { id: "preview-audience", text: number(preview.audience) })),
      h("div", {}, h("dt", { text: "可触达人数" }), h("dd", { id: "preview-reach", text: number(preview.reach) })),
      h("div", {}, h("dt", { text: "预计发送条数" }), h("dd", { text: number(preview.enqueued) }))),
    channels.length ? h("table", { class: "data", id: "preview-channels" },
      h("caption", { text: "各渠道预估（已排除退订、无地址、频次与配额）" }),
      h("thead", {}, h("tr", {}, ["渠道", "候选人数", "可发送", ...Object.values(SKIP)].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, channels.map((c) => h("tr", { dataset: { channel: c.channel } },
        h("th", { scope: "row", text: CHANNEL[c.channel] || c.channel }),
        h("td", { class: "num", text: number(c.candidates) }),
        h("td", { class: "num", text: number(c.enqueued) }),
        Object.keys(SKIP).map((r) => h("td", { class: "num", text: number((c.skipped || {})[r] || 0) })))))) : null);
}

async function detailView(token, campaignId) {
  const path = `/v1/admin/campaigns/${encodeURIComponent(campaignId)}`;
  let firstRender = true;
  async function load() {
    let campaign;
    try {
      campaign = await api.get(path);
    } catch (err) {
      page("推送活动", errorBox(err));
      return;
    }
    if (token !== routeToken) return;
    const schedule = campaign.schedule || {};
    const meta = h("dl", { class: "meta" },
      [["状态", statusBadge(campaign.status)],
        ["类别", CATEGORY[campaign.category] || campaign.category],
        ["渠道", (campaign.effective_channels || campaign.channels).map((c) => CHANNEL[c] || c).join("、")],
        ["创建人", accountName(campaign.author, campaign.author_name)],
        ["审批人", campaign.approved_by ? accountName(campaign.approved_by, campaign.approved_by_name) : "—"],
        ["开始时间", formatTime(schedule.start_at)],
        ["结束时间", formatTime(schedule.end_at)],
        ["每人最多", `${campaign.max_per_citizen} 条`],
        ["版本", String(campaign.version)],
        campaign.rejection ? ["退回理由", campaign.rejection] : null,
        campaign.paused_reason ? ["暂停原因", PAUSE_REASON[campaign.paused_reason] || campaign.paused_reason] : null,
        campaign.note ? ["备注", campaign.note] : null,
      ].filter(Boolean).map(([k, v]) => h("div", {}, h("dt", { text: k }), h("dd", {}, v))));
    const previewBox = h("div", { id: "server-preview" }, h("p", { class: "loading", text: "正在计算受众…" }));
    const auditBox = h("div", { id: "audit" }, h("p", { class: "loading", text: "正在加载…" }));
    const loadAudit = () => api.get(`${path}/audit`).then((a) => auditBox.replaceChildren(auditTable(api.listOf(a, "entries", "audit"))))
      .catch((err) => auditBox.replaceChildren(errorBox(err)));
    // Dead letters exist once a campaign has sent; retrying needs it running or paused (the API checks too).
    const deadBox = SENT_STATUSES.has(campaign.status)
      ? deadLetterSection(campaign, { canRetry: canOperate() && ["running", "paused"].includes(campaign.status),
        errorBox, accountName, onRetried: () => loadAudit() })
      : null;
    page(campaign.name,
      h("section", { "aria-labelledby": "sec-overview" }, h("h2", { id: "sec-overview", class: "visually-hidden", text: "概况" }), meta,
        actionsFor(campaign, load)),
      h("section", { "aria-labelledby": "sec-preview" }, h("h2", { id: "sec-preview", text: "受众与消息预览" }), previewBox,
        h("div", { class: "previews previews-row", id: "campaign-preview" }, renderPreviews(campaign))),
      deadBox,
      h("section", { "aria-labelledby": "sec-audit" }, h("h2", { id: "sec-audit", text: "审计记录" }), auditBox));
    main.dataset.status = campaign.status;
    if (!firstRender) {
      const heading = document.getElementById("page-title");
      if (heading) heading.focus();
    }
    firstRender = false;
    // While the worker may change the status (start, finish), watch it and re-render on a change.
    clearTimeout(pollTimer);
    if (LIVE.has(campaign.status)) {
      const watch = async () => {
        if (token !== routeToken) return;
        try {
          const now = await api.get(path);
          if (token !== routeToken) return;
          if (now.status !== campaign.status) return load();
        } catch { /* keep watching */ }
        pollTimer = setTimeout(watch, POLL_MS);
      };
      pollTimer = setTimeout(watch, POLL_MS);
    }
    api.get(`${path}/preview`).then((p) => previewBox.replaceChildren(previewSummary(p)))
      .catch((err) => previewBox.replaceChildren(errorBox(err)));
    loadAudit();
  }
  await load();
}

// --- stats ----------------------------------------------------------------------------------------

async function statsView(token, campaignId) {
  const path = `/v1/admin/campaigns/${encodeURIComponent(campaignId)}`;
  let campaign;
  try {
    campaign = await api.get(path);
  } catch (err) {
    page("发送统计", errorBox(err));
    return;
  }
  if (token !== routeToken) return;
  const figures = h("dl", { class: "figures", id: "stats-figures" });
  const chartBox = h("div", { id: "stats-chart" });
  const skipBox = h("div", { id: "stats-skipped" });
  const channelBox = h("div", { id: "stats-channels" });
  const updated = h("p", { class: "hint", id: "stats-updated", "aria-live": "off" });
  const status = h("span", { id: "stats-status" });
  const auto = h("input", { type: "checkbox", id: "auto-refresh", checked: true });
  const refreshBtn = h("button", { type: "button", class: "btn btn-small", text: "立即刷新", onclick: () => refresh() });
  page(`发送统计：${campaign.name}`,
    h("p", {}, h("a", { href: `#/campaigns/${encodeURIComponent(campaignId)}`, text: "‹ 返回活动详情" })),
    h("div", { class: "toolbar" }, h("p", {}, "状态：", status),
      h("div", { class: "check" }, auto, h("label", { for: auto.id, text: "发送期间自动刷新（每 2 秒）" })), refreshBtn),
    figures,
    h("section", { "aria-labelledby": "sec-chart" }, h("h2", { id: "sec-chart", text: "发送趋势（按分钟累计）" }), chartBox),
    h("section", { "aria-labelledby": "sec-skip" }, h("h2", { id: "sec-skip", text: "跳过原因" }), skipBox),
    h("section", { "aria-labelledby": "sec-channels" }, h("h2", { id: "sec-channels", text: "分渠道" }), channelBox),
    updated);

  async function refresh() {
    let stats;
    try {
      stats = await api.get(`${path}/stats`);
    } catch (err) {
      updated.textContent = `刷新失败：${describeError(err)}`;
      return schedule(true);
    }
    if (token !== routeToken) return;
    const st = stats.status || campaign.status;
    status.replaceChildren(statusBadge(st));
    main.dataset.status = st;
    const skippedTotal = Object.values(stats.skipped || {}).reduce((a, b) => a + b, 0);
    const items = [["planned", "计划发送", stats.planned], ["sent", "已发送", stats.sent], ["delivered", "已送达", stats.delivered],
      ["failed", "失败", stats.failed],
      ["skipped", "已跳过", skippedTotal], ["opened", "已打开", stats.opened]];
    figures.replaceChildren(...items.map(([key, label, value]) =>
      h("div", { dataset: { metric: key } }, h("dt", { text: label }), h("dd", { dataset: { value: String(value || 0) }, text: number(value || 0) }))));
    clear(chartBox, lineChart(stats.series || []),
      h("details", { class: "table-alt" }, h("summary", { text: "以表格查看每分钟数据" }),
        h("table", { class: "data" },
          h("thead", {}, h("tr", {}, ["时间", "计划", "已发送", "已送达", "失败", "已打开"].map((t) => h("th", { scope: "col", text: t })))),
          h("tbody", {}, (stats.series || []).map((p) => h("tr", {}, h("td", { text: formatTime(p.minute) }),
            ["planned", "sent", "delivered", "failed", "opened"].map((k) => h("td", { class: "num", text: number(p[k] || 0) }))))))));
    const bars = Object.entries(SKIP).map(([key, label]) => ({ label, value: (stats.skipped || {})[key] || 0 }));
    clear(skipBox, barChart(bars));
    const perChannel = Object.entries(stats.channels || {});
    clear(channelBox, perChannel.length ? h("table", { class: "data" },
      h("thead", {}, h("tr", {}, ["渠道", "计划", "已发送", "已送达", "失败", "重试", "死信"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, perChannel.map(([ch, m]) => h("tr", {}, h("th", { scope: "row", text: CHANNEL[ch] || ch }),
        ["planned", "sent", "delivered", "failed", "retries", "dead"].map((k) => h("td", { class: "num", text: number(m[k] || 0) })))))) :
      h("p", { class: "empty", text: "暂无数据" }));
    updated.textContent = `更新于 ${new Date().toLocaleTimeString("zh-CN")}`;
    schedule(LIVE.has(st));
  }

  function schedule(again) {
    clearTimeout(pollTimer);
    if (again && auto.checked && token === routeToken) pollTimer = setTimeout(refresh, POLL_MS);
  }
  auto.addEventListener("change", () => schedule(auto.checked));
  await refresh();
}

// --- router -----------------------------------------------------------------------------------------

async function route() {
  const token = ++routeToken;
  clearTimeout(pollTimer);
  const hash = location.hash || "#/campaigns";
  if (!api.hasSession()) {
    loginView(hash);
    return;
  }
  if (!me) {
    try {
      me = await api.get("/v1/admin/me");
    } catch {
      if (token === routeToken) loginView(hash);
      return;
    }
  }
  if (!templatesLoaded) {
    templatesLoaded = true;
    try {
      mergeTemplates(api.listOf(await api.get("/v1/admin/push-templates"), "templates"));
    } catch { /* the built-in table mirrors the sandbox's templates */ }
  }
  // A newer navigation started while this one awaited: rendering now would paint a stale page over it.
  if (token !== routeToken) return;
  showShell(true);
  for (const link of document.querySelectorAll("[data-nav]")) link.removeAttribute("aria-current");
  const path = hash.slice(1).split("?")[0];
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] !== "campaigns" || parts.length === 1) {
      document.querySelector('[data-nav="campaigns"]').setAttribute("aria-current", "page");
      await listView(token);
    } else if (parts[1] === "new") {
      document.querySelector('[data-nav="new"]').setAttribute("aria-current", "page");
      await editorView(token, null);
    } else if (parts[2] === "edit") {
      await editorView(token, parts[1]);
    } else if (parts[2] === "stats") {
      await statsView(token, parts[1]);
    } else {
      await detailView(token, parts[1]);
    }
  } catch (err) {
    if (!api.hasSession()) return;
    page("出错了", errorBox(err));
  }
  if (token === routeToken && document.activeElement === document.body) focusHeading();
}

api.onSessionEnd((reason) => {
  me = null;
  clearTimeout(pollTimer);
  if (reason === "expired") toast("登录已过期，请重新登录", "error");
  loginView(location.hash);
});

// The skip link moves focus without touching the hash (the hash is the router's).
document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

document.getElementById("logout").addEventListener("click", async () => {
  await api.logout();
  toast("已退出登录");
  location.hash = "#/login";
});

window.addEventListener("hashchange", () => {
  route().then(() => { if (api.hasSession()) focusHeading(); });
});

route();
