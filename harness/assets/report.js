// Everything from the runs is written with textContent or SVG text nodes, never parsed as HTML.
"use strict";
const runs = JSON.parse(document.getElementById("data").textContent);
const SVG = "http://www.w3.org/2000/svg";
const PAGE = 50;
const COLORS = ["#4472c4", "#ed7d31", "#70ad47", "#7030a0", "#ffc000", "#264478", "#9e480e"];

function el(tag, attrs, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function mainMetric(task, scores) {
  const names = scores.filter(s => s.task === task).map(s => s.metric);
  for (const m of ["acc", "exact_match", "Rouge-L-F", "bleu-1"]) if (names.includes(m)) return m;
  return names[0];
}

function barChart(task) {
  const metric = mainMetric(task, runs[0].scores);
  const groups = [];
  for (const s of runs[0].scores) {
    if (s.task !== task || s.metric !== metric || s.aggregation !== "micro") continue;
    const label = s.category === "-" ? s.subset : s.subset + " / " + s.category;
    if (!groups.includes(label)) groups.push(label);
  }
  const value = (run, label) => {
    const s = run.scores.find(x => x.task === task && x.metric === metric && x.aggregation === "micro" &&
      (x.category === "-" ? x.subset : x.subset + " / " + x.category) === label);
    return s ? s.score : 0;
  };
  const barH = 12, gap = 6, left = 170, width = 260, legendStep = 48;
  // The legend gets its own line under the title, one short run label (R1, R2, ...) per colour,
  // wrapped to the chart's width; the run list at the top of the page names each run.
  const chartW = left + width + 60, perLine = Math.max(1, Math.floor((chartW - 4) / legendStep));
  const legendLines = Math.ceil(runs.length / perLine);
  const top = 18 + legendLines * 14 + 6;
  const height = groups.length * (runs.length * barH + gap) + top + 6;
  const svg = el("svg:svg", { width: chartW, height: height, role: "img" });
  svg.appendChild(el("svg:text", { x: 0, y: 12 }, task + ": " + metric));
  const legend = el("svg:g", { class: "legend" });
  runs.forEach((run, i) => {
    const lx = (i % perLine) * legendStep, ly = 18 + Math.floor(i / perLine) * 14;
    legend.appendChild(el("svg:rect", { x: lx, y: ly + 2, width: 10, height: 10, fill: COLORS[i % COLORS.length] }));
    legend.appendChild(el("svg:text", { x: lx + 14, y: ly + 11 }, run.label));
  });
  svg.appendChild(legend);
  let y = top;
  for (const label of groups) {
    svg.appendChild(el("svg:text", { x: 0, y: y + barH * runs.length / 2 + 4 }, label.length > 26 ? label.slice(0, 25) + "…" : label));
    runs.forEach((run, i) => {
      const v = value(run, label);
      svg.appendChild(el("svg:rect", { x: left, y: y, width: Math.max(1, v * width), height: barH - 2, fill: COLORS[i % COLORS.length] }));
      svg.appendChild(el("svg:text", { x: left + v * width + 4, y: y + barH - 3 }, v.toFixed(3)));
      y += barH;
    });
    y += gap;
  }
  const box = el("div", { class: "chart" });
  box.appendChild(svg);
  return box;
}

function lineChart(task) {
  const stepped = runs.filter(r => r.step !== null).sort((a, b) => a.step - b.step);
  const metric = mainMetric(task, runs[0].scores);
  const points = stepped.map(r => {
    const rows = r.scores.filter(s => s.task === task && s.metric === metric && s.category === "-" && s.aggregation === "micro");
    const row = rows.find(s => s.subset === "OVERALL") || rows[0];
    return [r.step, row ? row.score : 0];
  });
  const w = 360, h = 160, pad = 30;
  const maxStep = Math.max(...points.map(p => p[0])), minStep = Math.min(...points.map(p => p[0]));
  const x = s => pad + (maxStep === minStep ? 0 : (s - minStep) / (maxStep - minStep)) * (w - 2 * pad);
  const y = v => h - pad - v * (h - 2 * pad);
  const svg = el("svg:svg", { width: w + 40, height: h, role: "img" });  // room on the right for the last value label
  svg.appendChild(el("svg:text", { x: 0, y: 12 }, task + ": " + metric + " by step"));
  svg.appendChild(el("svg:polyline", { points: points.map(p => x(p[0]) + "," + y(p[1])).join(" "), fill: "none", stroke: COLORS[0] }));
  for (const [s, v] of points) {
    svg.appendChild(el("svg:circle", { cx: x(s), cy: y(v), r: 3, fill: COLORS[0] }));
    svg.appendChild(el("svg:text", { x: x(s) - 8, y: h - 8 }, String(s)));
    svg.appendChild(el("svg:text", { x: x(s) + 4, y: y(v) - 4 }, v.toFixed(3)));
  }
  const box = el("div", { class: "chart" });
  box.appendChild(svg);
  return box;
}

const charts = document.getElementById("charts");
const tasks = [...new Set(runs.flatMap(r => r.scores.map(s => s.task)))];
for (const task of tasks) {
  charts.appendChild(barChart(task));
  if (runs.filter(r => r.step !== null).length > 1) charts.appendChild(lineChart(task));
}

const runSelect = document.getElementById("f-run");
runs.forEach((r, i) => runSelect.appendChild(el("option", { value: String(i) }, r.label + " " + r.name)));
const subsetSelect = document.getElementById("f-subset");
subsetSelect.appendChild(el("option", { value: "" }, "all"));
for (const s of [...new Set(runs.flatMap(r => r.samples.map(x => x.task + "/" + x.subset)))]) subsetSelect.appendChild(el("option", { value: s }, s));
const firstOk = new Map(runs[0].samples.map(s => [s.key, s.ok]));
let page = 0;

function filtered() {
  const run = runs[Number(runSelect.value)];
  const subset = subsetSelect.value, ok = document.getElementById("f-ok").value;
  const flipped = document.getElementById("f-flipped").checked;
  const text = document.getElementById("f-text").value.toLowerCase();
  return run.samples.filter(s =>
    (!subset || s.task + "/" + s.subset === subset) &&
    (ok === "all" || (ok === "right" ? s.ok === 1 : s.ok === 0)) &&
    (!flipped || (firstOk.has(s.key) && firstOk.get(s.key) !== s.ok)) &&
    (!text || (s.prompt + "\n" + (s.output || "") + "\n" + s.reference).toLowerCase().includes(text)));
}

function show(s) {
  document.getElementById("detail").textContent =
    "PROMPT\n" + s.prompt + "\n\nOUTPUT\n" + s.output + "\n\nEXTRACTED: " + s.extracted + "\nREFERENCE: " + s.reference;
}

function render() {
  const rows = filtered();
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  page = Math.min(page, pages - 1);
  const body = document.querySelector("#samples tbody");
  body.replaceChildren();
  rows.slice(page * PAGE, (page + 1) * PAGE).forEach((s, i) => {
    const tr = el("tr", { "data-key": s.key });
    const result = s.ok === null ? "-" : s.ok === 1 ? "right" : "wrong";
    tr.appendChild(el("td", {}, String(page * PAGE + i + 1)));
    tr.appendChild(el("td", {}, s.task + "/" + s.subset));
    tr.appendChild(el("td", { class: result }, result));
    tr.appendChild(el("td", {}, s.extracted));
    tr.appendChild(el("td", {}, s.reference));
    tr.appendChild(el("td", {}, s.output || ""));
    tr.addEventListener("click", () => show(s));
    body.appendChild(tr);
  });
  document.getElementById("count").textContent = rows.length + " samples";
  document.getElementById("page").textContent = "page " + (page + 1) + " of " + pages;
}

for (const id of ["f-run", "f-subset", "f-ok", "f-flipped"]) document.getElementById(id).addEventListener("change", () => { page = 0; render(); });
document.getElementById("f-text").addEventListener("input", () => { page = 0; render(); });
document.getElementById("prev").addEventListener("click", () => { page = Math.max(0, page - 1); render(); });
document.getElementById("next").addEventListener("click", () => { page += 1; render(); });
render();

// CJK text without a font that has its glyphs shows as boxes: two different ideographs then draw
// the same "missing glyph" shape. Say so on the page instead of leaving unreadable boxes.
function cjkFontMissing() {
  const canvas = document.createElement("canvas");
  canvas.width = 40; canvas.height = 40;
  const ctx = canvas.getContext("2d");
  const draw = ch => {
    ctx.clearRect(0, 0, 40, 40);
    ctx.font = "28px " + getComputedStyle(document.body).fontFamily;
    ctx.fillText(ch, 4, 32);
    return Array.from(ctx.getImageData(0, 0, 40, 40).data).join(",");
  };
  return draw("\u4e2d") === draw("\u6587");
}
const hasCjk = /[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]/.test(document.body.textContent + document.getElementById("data").textContent);
document.getElementById("cjk-note").hidden = !(hasCjk && cjkFontMissing());
