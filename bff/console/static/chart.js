// Inline-SVG charts (no library): a per-minute line chart and a horizontal bar chart. Colours keep
// ≥ 3:1 against white for graphics and the legend text is the body colour (≥ 4.5:1).
import { h } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";
const s = (tag, attrs = {}, ...children) => h(tag, { ...attrs, ns: SVG }, ...children);

export const SERIES = [
  { key: "sent", label: "已发送", color: "#1d5fbf", dash: "" },
  { key: "delivered", label: "已送达", color: "#0f7a3d", dash: "6 3" },
  { key: "failed", label: "失败", color: "#b3261e", dash: "2 3" },
  { key: "opened", label: "已打开", color: "#7a4ab8", dash: "10 4 2 4" },
];

const pad = (n) => String(n).padStart(2, "0");
const hhmm = (seconds) => {
  const d = new Date(seconds * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

// A y-axis top that is 4 whole-number steps of 1, 2 or 5 × 10^n.
function niceMax(value) {
  const raw = Math.max(1, value / 4);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const step of [1, 2, 5, 10]) {
    if (step * magnitude >= raw) return Math.max(4, Math.ceil(step * magnitude) * 4);
  }
  return value;
}

// points: [{minute, sent, delivered, ...}] sorted by minute. Cumulative totals read best for a run.
export function lineChart(points, { width = 720, height = 260, cumulative = true, title = "发送趋势" } = {}) {
  const margin = { top: 16, right: 16, bottom: 36, left: 52 };
  const innerW = width - margin.left - margin.right;
  const innerH = height - margin.top - margin.bottom;
  const rows = [];
  const totals = Object.fromEntries(SERIES.map((m) => [m.key, 0]));
  for (const p of points) {
    const row = { minute: p.minute };
    for (const m of SERIES) {
      totals[m.key] += p[m.key] || 0;
      row[m.key] = cumulative ? totals[m.key] : p[m.key] || 0;
    }
    rows.push(row);
  }
  // Lines start from zero the minute before the first data point.
  if (rows.length) rows.unshift({ ...Object.fromEntries(SERIES.map((m) => [m.key, 0])), minute: rows[0].minute - 60 });
  const maxY = niceMax(Math.max(1, ...rows.flatMap((r) => SERIES.map((m) => r[m.key]))));
  const t0 = rows.length ? rows[0].minute : 0;
  const t1 = rows.length ? rows[rows.length - 1].minute : 60;
  const span = Math.max(60, t1 - t0);
  const x = (t) => margin.left + ((t - t0) / span) * innerW;
  const y = (v) => margin.top + innerH - (v / maxY) * innerH;

  const summary = SERIES.map((m) => `${m.label} ${totals[m.key]}`).join("，");
  const svg = s("svg", {
    class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "chart-title chart-desc",
    preserveAspectRatio: "xMidYMid meet",
  },
  s("title", { id: "chart-title", text: title }),
  s("desc", { id: "chart-desc", text: rows.length ? `按分钟累计：${summary}` : "暂无数据" }));

  const grid = s("g", { class: "chart-grid" });
  for (let i = 0; i <= 4; i++) {
    const value = (maxY / 4) * i;
    grid.append(
      s("line", { x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value), stroke: "#d0d4da", "stroke-width": 1 }),
      s("text", { x: margin.left - 8, y: y(value) + 4, "text-anchor": "end", class: "chart-tick", text: String(Math.round(value)) }),
    );
  }
  svg.append(grid);
  const ticks = s("g", { class: "chart-xaxis" });
  const step = Math.max(1, Math.ceil(rows.length / 6));
  rows.forEach((r, i) => {
    if (i % step !== 0 && i !== rows.length - 1) return;
    ticks.append(s("text", { x: x(r.minute), y: height - 12, "text-anchor": "middle", class: "chart-tick", text: hhmm(r.minute) }));
  });
  svg.append(ticks, s("line", { x1: margin.left, x2: width - margin.right, y1: y(0), y2: y(0), stroke: "#5f6670", "stroke-width": 1 }));

  if (rows.length) {
    for (const m of SERIES) {
      const d = rows.map((r, i) => `${i ? "L" : "M"}${x(r.minute).toFixed(1)},${y(r[m.key]).toFixed(1)}`).join(" ");
      const group = s("g", { class: `chart-series chart-series-${m.key}`, "data-metric": m.key, "data-total": String(totals[m.key]) });
      group.append(s("path", { d, fill: "none", stroke: m.color, "stroke-width": 2.5, "stroke-dasharray": m.dash || null, "stroke-linejoin": "round" }));
      for (const r of rows) group.append(s("circle", { cx: x(r.minute), cy: y(r[m.key]), r: 3, fill: m.color }));
      svg.append(group);
    }
  } else {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "chart-empty", text: "尚无发送数据" }));
  }

  const legend = h("ul", { class: "legend", "aria-hidden": "true" },
    SERIES.map((m) => h("li", {}, h("span", { class: `swatch swatch-${m.key}` }), `${m.label}（${totals[m.key]}）`)));
  return h("div", { class: "chart-wrap" }, svg, legend);
}

// bars: [{label, value}]
export function barChart(bars, { width = 720, title = "跳过原因" } = {}) {
  const rowH = 28;
  const labelW = 120;
  const height = Math.max(1, bars.length) * rowH + 8;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const svg = s("svg", { class: "chart chart-bars", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}：${bars.map((b) => `${b.label} ${b.value}`).join("，")}` });
  bars.forEach((b, i) => {
    const top = i * rowH + 4;
    const w = ((width - labelW - 60) * b.value) / max;
    svg.append(
      s("text", { x: labelW - 8, y: top + 17, "text-anchor": "end", class: "chart-label", text: b.label }),
      s("rect", { x: labelW, y: top + 4, width: Math.max(b.value ? 2 : 0, w), height: rowH - 10, fill: "#8a5a00", rx: 2 }),
      s("text", { x: labelW + w + 6, y: top + 17, class: "chart-label", text: String(b.value) }),
    );
  });
  return svg;
}
