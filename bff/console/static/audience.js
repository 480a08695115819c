// Audience builder: 盟市/旗县 tree, age range, person/enterprise, 一件事 themes, handled / not handled
// items. Emits normalised rules (push/audience.py validate_rules) on every change.
import * as api from "./api.js";
import { debounce, field, h, nextId } from "./ui.js";

// The regions endpoint may answer a nested tree or a flat list; normalise to [{code, name, counties: [...]}].
export function normaliseRegions(data) {
  const kids = (node) => node.children || node.counties || node.regions || [];
  let root = data;
  if (root && root.tree) root = root.tree;
  if (root && root.province) root = root.province;
  let cities = [];
  if (Array.isArray(root)) {
    const flat = root.every((r) => !kids(r).length) && root.some((r) => r.parent);
    if (flat) {
      const byParent = {};
      for (const r of root) (byParent[r.parent] ||= []).push(r);
      const list = root.filter((r) => r.level === "city");
      cities = list.map((c) => ({ ...c, counties: byParent[c.code] || [] }));
    } else if (root.length === 1 && root[0].level === "province") {
      cities = kids(root[0]);
    } else {
      cities = root;
    }
  } else if (root && typeof root === "object") {
    cities = root.cities || kids(root);
  }
  return cities.map((c) => ({ code: c.code, name: c.name, counties: kids(c).map((k) => ({ code: k.code, name: k.name })) }));
}

export function audienceBuilder(onChange) {
  const state = { cities: new Set(), counties: new Set(), themes: new Set(), handled: [], not_handled: [], kept: {} };
  const emit = () => onChange(rules());
  const root = h("div", { class: "audience" });

  // --- regions ------------------------------------------------------------------------------
  const regionBox = h("div", { class: "region-tree", role: "group", "aria-labelledby": "regions-legend" },
    h("p", { class: "hint", text: "正在加载行政区划…" }));
  const regionSummary = h("p", { class: "hint", id: "regions-summary", "aria-live": "polite", text: "未选择：全区" });
  const countyBoxes = new Map(); // city code -> [checkbox]
  const cityBoxes = new Map();

  function syncCity(cityCode) {
    const checked = state.cities.has(cityCode);
    for (const box of countyBoxes.get(cityCode) || []) {
      box.disabled = checked;
      box.checked = checked || state.counties.has(box.value);
    }
  }

  function summarise() {
    const names = [];
    for (const [code, box] of cityBoxes) if (state.cities.has(code)) names.push(box.dataset.name);
    for (const boxes of countyBoxes.values()) {
      for (const box of boxes) if (!box.disabled && box.checked) names.push(box.dataset.name);
    }
    regionSummary.textContent = names.length ? `已选择：${names.join("、")}` : "未选择：全区";
  }

  api.get("/v1/admin/regions").then((data) => {
    const cities = normaliseRegions(data);
    regionBox.replaceChildren();
    for (const city of cities) {
      const cityBox = h("input", { type: "checkbox", value: city.code, id: `region-${city.code}`, dataset: { name: city.name } });
      cityBoxes.set(city.code, cityBox);
      cityBox.addEventListener("change", () => {
        if (cityBox.checked) state.cities.add(city.code);
        else state.cities.delete(city.code);
        syncCity(city.code);
        summarise();
        emit();
      });
      const boxes = city.counties.map((county) => {
        const box = h("input", { type: "checkbox", value: county.code, id: `region-${county.code}`, dataset: { name: county.name } });
        box.addEventListener("change", () => {
          if (box.checked) state.counties.add(county.code);
          else state.counties.delete(county.code);
          summarise();
          emit();
        });
        return box;
      });
      countyBoxes.set(city.code, boxes);
      const details = h("details", { class: "region-city" },
        h("summary", {}, h("span", { class: "visually-hidden", text: "展开" }), `${city.name}（${city.counties.length} 个旗县市区）`),
        h("ul", { class: "region-counties" },
          city.counties.map((county, i) => h("li", {}, boxes[i], h("label", { for: boxes[i].id, text: county.name })))));
      regionBox.append(h("div", { class: "region-row" },
        h("div", { class: "check" }, cityBox, h("label", { for: cityBox.id, text: `${city.name}（全盟市）` })),
        details));
    }
    for (const code of state.cities) syncCity(code);
    for (const boxes of countyBoxes.values()) for (const box of boxes) if (state.counties.has(box.value)) box.checked = true;
    for (const [code, box] of cityBoxes) box.checked = state.cities.has(code);
    summarise();
  }).catch((err) => {
    regionBox.replaceChildren(h("p", { class: "error-text", text: `行政区划加载失败：${err.message}` }));
  });

  const regions = h("fieldset", { class: "sub" },
    h("legend", { id: "regions-legend", text: "地区（盟市 / 旗县市区）" }), regionSummary, regionBox);

  // --- age, subject ---------------------------------------------------------------------------
  const ageMin = h("input", { type: "number", min: "0", max: "130", inputmode: "numeric", id: "age-min", class: "narrow" });
  const ageMax = h("input", { type: "number", min: "0", max: "130", inputmode: "numeric", id: "age-max", class: "narrow" });
  for (const input of [ageMin, ageMax]) input.addEventListener("input", debounce(emit, 150));
  const age = h("fieldset", { class: "sub inline" }, h("legend", { text: "年龄范围（岁）" }),
    field("最小年龄", ageMin), field("最大年龄", ageMax));

  const subjectName = nextId("subject");
  const subjects = [["any", "不限"], ["person", "个人"], ["enterprise", "法人（企业）"]].map(([value, label]) => {
    const input = h("input", { type: "radio", name: subjectName, value, id: `subject-${value}`, checked: value === "any" });
    input.addEventListener("change", emit);
    return h("div", { class: "check" }, input, h("label", { for: input.id, text: label }));
  });
  const subject = h("fieldset", { class: "sub inline" }, h("legend", { text: "办事主体" }), subjects);

  // --- themes ---------------------------------------------------------------------------------
  const themeBox = h("div", { class: "theme-list" }, h("p", { class: "hint", text: "正在加载主题…" }));
  const themeBoxes = new Map();
  api.get("/v1/themes").then((data) => {
    themeBox.replaceChildren();
    for (const theme of api.listOf(data, "themes")) {
      const box = h("input", { type: "checkbox", value: theme.code, id: `theme-${theme.code}`, checked: state.themes.has(theme.code) });
      themeBoxes.set(theme.code, box);
      box.addEventListener("change", () => {
        if (box.checked) state.themes.add(theme.code);
        else state.themes.delete(theme.code);
        emit();
      });
      themeBox.append(h("div", { class: "check" }, box, h("label", { for: box.id, text: theme.name })));
    }
  }).catch(() => themeBox.replaceChildren(h("p", { class: "error-text", text: "主题加载失败" })));
  const themes = h("fieldset", { class: "sub" }, h("legend", { text: "关注的“一件事”主题" }), themeBox);

  // --- handled / not handled items -------------------------------------------------------------
  function itemPicker(key, legend) {
    const listId = nextId("items");
    const input = h("input", { type: "text", list: listId, id: `${key}-input`, autocomplete: "off", placeholder: "输入事项名称或基本编码" });
    const datalist = h("datalist", { id: listId });
    const chips = h("ul", { class: "chips", "aria-label": `${legend}：已添加的事项` });
    const names = new Map();
    const renderChips = () => {
      chips.replaceChildren(...state[key].map((code) => h("li", { class: "chip" },
        h("span", { text: names.get(code) ? `${names.get(code)}（${code}）` : code }),
        h("button", { type: "button", class: "chip-remove", "aria-label": `移除 ${names.get(code) || code}`, text: "×",
          onclick: () => { state[key] = state[key].filter((c) => c !== code); renderChips(); emit(); } }))));
    };
    const suggest = debounce(async () => {
      const q = input.value.trim();
      if (!q || /^[A-Z0-9]{4,}$/i.test(q)) return;
      try {
        const data = await api.get(`/v1/items/suggest?q=${encodeURIComponent(q)}`);
        datalist.replaceChildren(...api.listOf(data, "suggestions").filter((s) => s.basic_code).map((s) => {
          names.set(s.basic_code, s.text);
          return h("option", { value: s.basic_code, text: s.text });
        }));
      } catch { /* suggestions are a convenience */ }
    }, 200);
    input.addEventListener("input", suggest);
    const add = () => {
      const code = input.value.trim().toUpperCase();
      if (code && !state[key].includes(code)) {
        state[key] = [...state[key], code];
        renderChips();
        emit();
      }
      input.value = "";
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); add(); }
    });
    const button = h("button", { type: "button", class: "btn btn-small", text: "添加", onclick: add });
    const box = h("fieldset", { class: "sub" }, h("legend", { text: legend }),
      h("div", { class: "field inline-field" }, h("label", { for: input.id, text: "事项" }), input, datalist, button),
      chips);
    box.render = renderChips;
    return box;
  }
  const handled = itemPicker("handled", "已办结以下事项");
  const notHandled = itemPicker("not_handled", "未办结以下事项");

  root.append(regions, age, subject, themes, handled, notHandled);

  function rules() {
    const out = {};
    const counties = [];
    for (const [city, boxes] of countyBoxes) {
      if (state.cities.has(city)) continue;
      for (const box of boxes) if (state.counties.has(box.value)) counties.push(box.value);
    }
    if (!countyBoxes.size) counties.push(...state.counties);
    const regionCodes = [...state.cities, ...counties];
    if (regionCodes.length) out.regions = regionCodes.sort();
    const min = ageMin.value === "" ? null : Number(ageMin.value);
    const max = ageMax.value === "" ? null : Number(ageMax.value);
    if (Number.isInteger(min)) out.age_min = min;
    if (Number.isInteger(max)) out.age_max = max;
    const picked = root.querySelector(`input[name="${subjectName}"]:checked`);
    if (picked && picked.value !== "any") out.subject = picked.value;
    if (state.themes.size) out.themes = [...state.themes].sort();
    if (state.handled.length) out.handled = [...state.handled];
    if (state.not_handled.length) out.not_handled = [...state.not_handled];
    return { ...state.kept, ...out }; // a rule this builder does not edit (started_not_finished) is kept
  }

  function setRules(r = {}) {
    // A region code is a city when the tree knows it as one (or, before it loads, when it ends in 00).
    for (const code of r.regions || []) {
      if (cityBoxes.has(code) || (!cityBoxes.size && code.endsWith("00"))) state.cities.add(code);
      else state.counties.add(code);
    }
    for (const [code, box] of cityBoxes) { box.checked = state.cities.has(code); syncCity(code); }
    summarise();
    ageMin.value = r.age_min ?? "";
    ageMax.value = r.age_max ?? "";
    const subjectInput = root.querySelector(`input[name="${subjectName}"][value="${r.subject || "any"}"]`);
    if (subjectInput) subjectInput.checked = true;
    for (const code of r.themes || []) state.themes.add(code);
    for (const [code, box] of themeBoxes) box.checked = state.themes.has(code);
    state.handled = [...(r.handled || [])];
    state.not_handled = [...(r.not_handled || [])];
    state.kept = {};
    if (r.started_not_finished) state.kept.started_not_finished = r.started_not_finished;
    handled.render();
    notHandled.render();
  }

  return { element: root, rules, setRules };
}
