// The merchant dashboard: live stock of every product, create, restock,
// pause and resume, recent orders, and a live chart for one product.
"use strict";

const $ = id => document.getElementById(id);
const products = new Map(); // sku -> product JSON
const history = new Map(); // sku -> [{ t, available, reserved }] per second
let token = sessionStorage.getItem("merchant-token");
let selected = null;
let socket = null;

const admin = (method, path, body) => Shop.api(method, path, body, { authorization: `Bearer ${token}` });
const say = (text, kind = "error") => {
  $("message").textContent = text;
  $("message").className = `message ${kind}`;
};

function saleState(p) {
  const now = Date.now();
  if (p.sale_ends_at_ms && now >= p.sale_ends_at_ms) return "paused";
  if (p.sale_starts_at_ms && now < p.sale_starts_at_ms) return "not open yet";
  return "open";
}

function cell(text, numeric) {
  const td = document.createElement("td");
  td.textContent = text;
  if (numeric) td.className = "num";
  return td;
}

function button(text, onClick, secondary = true) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (secondary) b.className = "secondary";
  b.addEventListener("click", onClick);
  return b;
}

/** Each product's row, kept across renders: a live update must not reset
 * (or take the focus from) the amount a merchant is typing. */
const rows = new Map(); // sku -> { row, cells, toggle }

function rowOf(p) {
  let entry = rows.get(p.sku);
  if (!entry) {
    const row = document.createElement("tr");
    row.dataset.sku = p.sku;
    const cells = [false, false, true, true, true, true, true, false].map(numeric => cell("", numeric));
    const actions = document.createElement("td");
    const amount = document.createElement("input");
    amount.type = "number";
    amount.value = "10";
    amount.setAttribute("aria-label", `Units to add to ${p.sku}`);
    const toggle = button("Pause", () => {
      const paused = saleState(products.get(p.sku)) === "paused";
      act(`/api/admin/products/${p.sku}/${paused ? "resume" : "pause"}`);
    });
    actions.append(amount, button("Restock", () => act(`/api/admin/products/${p.sku}/restock`, { delta: Number(amount.value) })),
      toggle, button("Chart", () => { selected = p.sku; $("chart-sku").textContent = p.sku; drawChart(); }));
    row.append(...cells, actions);
    entry = { row, cells, toggle };
    rows.set(p.sku, entry);
  }
  return entry;
}

function render() {
  const sorted = [...products.values()].sort((a, b) => a.sku.localeCompare(b.sku));
  for (const p of sorted) {
    const { cells, toggle } = rowOf(p);
    const state = saleState(p);
    [p.sku, p.name, p.available, p.held, p.sold, p.total, p.version, state]
      .forEach((value, i) => { cells[i].textContent = value; });
    toggle.textContent = state === "paused" ? "Resume" : "Pause";
  }
  // Rows are moved only when products come or go: moving one blurs its input.
  const table = $("products");
  const wanted = sorted.map(p => rows.get(p.sku).row);
  if (wanted.length !== table.children.length || wanted.some((row, i) => table.children[i] !== row)) {
    table.replaceChildren(...wanted);
  }
}

async function act(path, body) {
  try {
    const product = await admin("POST", path, body);
    update(product);
    say("Done.", "ok");
  } catch (e) {
    say(e.message);
  }
}

/** The chart's point for this second, started on demand (two minutes kept). */
function currentPoint(sku, available) {
  const series = history.get(sku) || [];
  history.set(sku, series);
  const second = Math.floor(Date.now() / 1000);
  let point = series[series.length - 1];
  if (!point || point.t !== second) {
    point = { t: second, available, reserved: 0 };
    series.push(point);
    if (series.length > 120) series.shift();
  }
  return point;
}

function update(stock) {
  const known = products.get(stock.sku);
  if (known && stock.version < known.version) return;
  const before = known ? known.held + known.sold : stock.held + stock.sold;
  products.set(stock.sku, { ...known, ...stock });
  const point = currentPoint(stock.sku, stock.available);
  point.available = stock.available;
  point.reserved += Math.max(0, stock.held + stock.sold - before);
  render();
  if (stock.sku === selected) drawChart();
}

/** Once a second: a point for every product, so quiet seconds show too. */
function tick() {
  for (const p of products.values()) currentPoint(p.sku, p.available);
  if (selected) drawChart();
}

function drawChart() {
  const canvas = $("chart");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const series = history.get(selected) || [];
  if (!series.length) return;
  const maxReserved = Math.max(1, ...series.map(p => p.reserved));
  const total = products.get(selected)?.total || 1;
  const step = canvas.width / 120;
  ctx.fillStyle = "#0b57d0";
  series.forEach((p, i) => {
    const h = (p.reserved / maxReserved) * (canvas.height - 20);
    ctx.fillRect(i * step, canvas.height - h, Math.max(1, step - 1), h);
  });
  ctx.strokeStyle = "#0a6b2d";
  ctx.lineWidth = 2;
  ctx.beginPath();
  series.forEach((p, i) => {
    const y = canvas.height - (p.available / total) * (canvas.height - 20);
    if (i === 0) ctx.moveTo(i * step, y); else ctx.lineTo(i * step, y);
  });
  ctx.stroke();
}

async function loadOrders() {
  try {
    const orders = await admin("GET", "/api/admin/orders?limit=20");
    $("orders").replaceChildren(...orders.map(o => {
      const row = document.createElement("tr");
      row.append(cell(new Date(o.purchased_at_ms).toLocaleTimeString()), cell(o.sku), cell(o.customer_id), cell(o.quantity, true));
      return row;
    }));
  } catch (e) {
    say(`Orders: ${e.message}`);
  }
}

async function start() {
  await admin("GET", "/api/admin/session");
  $("login").hidden = true;
  $("dashboard").hidden = false;
  const list = await Shop.api("GET", "/api/products?limit=100");
  list.products.forEach(update);
  socket = Shop.connect($("connection"));
  // Watch every listed product (a socket may watch up to 32) on each (re)connect.
  socket.on("connect", () => {
    for (const sku of [...products.keys()].slice(0, 32)) {
      socket.timeout(5000).emitWithAck("watch", { sku }).then(s => s && !s.error && update(s)).catch(() => {});
    }
  });
  socket.on("stock", update);
  loadOrders();
  setInterval(loadOrders, 2000);
  setInterval(tick, 1000);
}

$("login").addEventListener("submit", async event => {
  event.preventDefault();
  token = $("token").value;
  try {
    await start();
    sessionStorage.setItem("merchant-token", token);
    say("");
  } catch (e) {
    say(e.code === "UNAUTHENTICATED" ? "That token is not accepted." : e.message);
  }
});

$("create").addEventListener("submit", async event => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = Object.fromEntries(form.entries());
  for (const k of ["price_cents", "total", "per_customer_limit", "hold_seconds"]) body[k] = Number(body[k]);
  try {
    const product = await admin("POST", "/api/admin/products", body);
    update(product);
    socket?.timeout(5000).emitWithAck("watch", { sku: product.sku }).catch(() => {});
    event.target.reset();
    say(`Created ${product.sku}.`, "ok");
  } catch (e) {
    say(e.message);
  }
});

if (token) start().catch(() => sessionStorage.removeItem("merchant-token"));
