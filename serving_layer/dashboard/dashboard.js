// The creator dashboard: the creator's totals, videos and one video's hourly views, and on the
// payouts tab the creator's payouts by month, read from the API with the creator's own key and
// refreshed every REFRESH_MS. The key stays in memory.
"use strict";

const REFRESH_MS = 10000;
const state = { creator: null, key: null, video: null, timer: null, chart: null, tab: "views" };
const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat("en-US");

async function api(path) {
  const answer = await fetch(path, { headers: { Authorization: `Bearer ${state.key}` } });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    const reason = answer.status === 401 ? "that API key is not valid"
      : answer.status === 404 ? "no views for this creator with that key"
      : answer.status === 429 ? "too many requests; slowing down"
      : body.detail || `the API answered ${answer.status}`;
    throw new Error(reason);
  }
  return body;
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function renderCreator(doc) {
  $("total").textContent = fmt.format(doc.views);
  $("total").dataset.value = String(doc.views);
  $("video-count").textContent = fmt.format(doc.videos.length);
  $("as-of").textContent = doc.as_of || "–";
  $("watermark").textContent = doc.batch_watermark || "none yet";
  const rows = doc.videos.slice().sort((a, b) => b.views - a.views);
  const body = $("videos").querySelector("tbody");
  body.replaceChildren(...rows.map((v) => {
    const tr = document.createElement("tr");
    tr.dataset.video = v.video_id;
    const name = document.createElement("td");
    name.textContent = v.video_id;
    const views = document.createElement("td");
    views.className = "num";
    views.textContent = fmt.format(v.views);
    views.dataset.value = String(v.views);
    tr.append(name, views);
    return tr;
  }));
  const select = $("video-select");
  const current = state.video && rows.some((v) => v.video_id === state.video) ? state.video : rows[0]?.video_id;
  select.replaceChildren(...rows.map((v) => new Option(v.video_id, v.video_id)));
  state.video = current || null;
  if (current) select.value = current;
  for (const id of ["summary", "videos-section", "chart-section"]) $(id).hidden = false;
}

function renderHourly(doc) {
  const xs = doc.hours.map((h) => Date.parse(h.hour) / 1000);
  const ys = doc.hours.map((h) => h.views);
  $("chart").dataset.points = String(xs.length);
  $("chart").dataset.views = String(ys.reduce((a, b) => a + b, 0));
  const width = Math.min(960, document.body.clientWidth - 64);
  if (state.chart) state.chart.destroy();
  state.chart = new uPlot({
    width, height: 280, scales: { x: { time: true } },
    series: [{}, { label: "views", stroke: "#2f6fdf", fill: "rgba(47,111,223,.12)", width: 2 }],
  }, [xs, ys], $("chart"));
}

function cell(text, value, numeric = false) {
  const td = document.createElement("td");
  td.textContent = text;
  if (value !== undefined) td.dataset.value = String(value);
  if (numeric) td.className = "num";
  return td;
}

function row(cells, key) {
  const tr = document.createElement("tr");
  if (key) tr.dataset.key = key;
  tr.append(...cells);
  return tr;
}

function renderPayouts(doc) {
  // Amounts are decimal strings (exact cents); they are shown as they come, never as floats.
  $("periods").querySelector("tbody").replaceChildren(...doc.periods.map((p) => row([
    cell(p.period), cell(fmt.format(p.views), p.views, true), cell(p.amount, p.amount, true), cell(p.currency),
  ], p.period)));
  $("payouts").querySelector("tbody").replaceChildren(...doc.payouts.map((p) => row([
    cell(p.period), cell(p.kind), cell(fmt.format(p.views), p.views, true), cell(p.rate_per_1000, undefined, true),
    cell(p.amount, p.amount, true), cell(p.payout_id), cell(String(p.audit_seq), p.audit_seq, true),
  ], p.payout_id)));
}

function showTab(tab) {
  state.tab = tab;
  for (const name of ["views", "payouts"]) {
    $(`${name}-tab`).hidden = name !== tab;
    $(`tab-${name}`).setAttribute("aria-selected", String(name === tab));
  }
}

async function refresh() {
  try {
    renderCreator(await api(`/v1/creators/${encodeURIComponent(state.creator)}/views`));
    $("tabs").hidden = false;
    if (state.tab === "payouts") renderPayouts(await api(`/v1/creators/${encodeURIComponent(state.creator)}/payouts`));
    else if (state.video) renderHourly(await api(`/v1/videos/${encodeURIComponent(state.video)}/views/hourly`));
    setStatus(`updated ${new Date().toLocaleTimeString()}`);
    document.body.dataset.loaded = "true";
  } catch (e) {
    setStatus(e.message, true);
  }
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  state.creator = $("creator").value.trim();
  state.key = $("key").value.trim();
  state.video = null;
  clearInterval(state.timer);
  refresh();
  state.timer = setInterval(refresh, REFRESH_MS);
});

$("video-select").addEventListener("change", (event) => {
  state.video = event.target.value;
  refresh();
});

for (const button of document.querySelectorAll("#tabs button")) {
  button.addEventListener("click", () => {
    showTab(button.dataset.tab);
    refresh();
  });
}
