// The merchant dashboard: live stock of every product, create, restock,
// schedule, pause and resume, recent orders, and a live chart for one product.
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

/** A countdown: "1:02:03", "4:05", "2d 3:04:05". */
function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const [d, h, m] = [Math.floor(s / 86400), Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60)];
  const ss = String(s % 60).padStart(2, "0");
  if (d > 0) return `${d}d ${h}:${String(m).padStart(2, "0")}:${ss}`;
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Where a product's sale is now, in words. A pause outranks the window. */
function saleState(p) {
  const now = Date.now();
  if (p.paused) return "paused";
  if (p.sale_ends_at_ms && now >= p.sale_ends_at_ms) return "closed";
  if (p.sale_starts_at_ms && now < p.sale_starts_at_ms) return `opens in ${clock(p.sale_starts_at_ms - now)}`;
  if (p.sale_ends_at_ms) return `closes in ${clock(p.sale_ends_at_ms - now)}`;
  return "open";
}

// A `datetime-local` input's value (local time, to the second) and back.
const toInput = ms => (ms ? new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 19) : "");
const fromInput = value => (value ? new Date(value).getTime() : null);

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
      act(`/api/admin/products/${p.sku}/${products.get(p.sku).paused ? "resume" : "pause"}`);
    });
    // One request id per click: a retry of a lost answer adds the units once.
    const restock = () => act(`/api/admin/products/${p.sku}/restock`, { delta: Number(amount.value), request_id: crypto.randomUUID() });
    actions.append(amount, button("Restock", restock),
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
    toggle.textContent = p.paused ? "Resume" : "Pause";
  }
  const select = $("schedule-sku");
  if ([...select.options].map(o => o.value).join() !== sorted.map(p => p.sku).join()) {
    const chosen = select.value;
    select.replaceChildren(...sorted.map(p => new Option(p.sku, p.sku)));
    if (products.has(chosen)) select.value = chosen;
    else showSchedule();
  }
  // Rows are moved only when products come or go: moving one blurs its input.
  const table = $("products");
  const wanted = sorted.map(p => rows.get(p.sku).row);
  if (wanted.length !== table.children.length || wanted.some((row, i) => table.children[i] !== row)) {
    table.replaceChildren(...wanted);
  }
}

/** The schedule form shows the chosen product's window (not while it is
 * being edited: only when another product is chosen). */
function showSchedule() {
  const p = products.get($("schedule-sku").value);
  $("schedule-starts").value = toInput(p?.sale_starts_at_ms);
  $("schedule-ends").value = toInput(p?.sale_ends_at_ms);
}

/** A merchant action. One whose answer was lost (the network, a node going
 * away) is sent again as it was: a restock carries its request id, and the
 * others set a state, so a repeat changes nothing more. */
async function act(path, body, method = "POST", done = "Done.") {
  for (let attempt = 1; ; attempt++) {
    try {
      update(await admin(method, path, body));
      say(done, "ok");
      return;
    } catch (e) {
      const lost = e instanceof TypeError || e.code === "UNAVAILABLE";
      if (!lost || attempt === 3) return say(e.message);
      await new Promise(resolve => setTimeout(resolve, 500 * attempt));
    }
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

/** Once a second: a point for every product, so quiet seconds show too,
 * and the countdowns move on. */
function tick() {
  for (const p of products.values()) currentPoint(p.sku, p.available);
  render();
  if (selected) drawChart();
}

/** A new version with the same stock is a change of settings (made from
 * elsewhere, say): stock events do not carry them, so read the product. */
function onStock(event) {
  const known = products.get(event.sku);
  update(event);
  const same = known && ["available", "held", "sold", "total"].every(k => known[k] === event[k]);
  if (same && event.version > known.version) {
    Shop.api("GET", `/api/products/${encodeURIComponent(event.sku)}`).then(update).catch(() => {});
  }
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
  socket.on("stock", onStock);
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
  for (const k of ["sale_starts_at", "sale_ends_at"]) {
    body[`${k}_ms`] = fromInput(body[k]);
    delete body[k];
  }
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

$("schedule-sku").addEventListener("change", showSchedule);
$("schedule").addEventListener("submit", event => {
  event.preventDefault();
  const sku = $("schedule-sku").value;
  // Both bounds, so an emptied one is cleared.
  act(`/api/admin/products/${encodeURIComponent(sku)}`, {
    sale_starts_at_ms: fromInput($("schedule-starts").value),
    sale_ends_at_ms: fromInput($("schedule-ends").value),
  }, "PATCH", `Saved the schedule of ${sku}.`);
});

if (token) start().catch(() => sessionStorage.removeItem("merchant-token"));
