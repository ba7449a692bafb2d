// The product page: live stock, a reserve button, and the shopper's hold.
"use strict";

const $ = id => document.getElementById(id);
const sku = decodeURIComponent(location.pathname.split("/").pop());
const customer = Shop.customerId();
let product = null;
let hold = null;
const holds = new Map(); // reservation id -> state, for the badge
let moreHolds = false; // the server has more active holds than one page

const MESSAGES = {
  OUT_OF_STOCK: "Sold out: no units left right now.",
  CUSTOMER_LIMIT: "You have reached the limit for this product.",
  SALE_CLOSED: "The sale is not open.",
  WRONG_STATE: "This hold can no longer be changed.",
  NOT_FOUND: "This product does not exist.",
};

// Deadlines are the server's: count down on its clock, not the shopper's.
// Every server time the page sees as it happens (a live event's `at_ms`, a
// new hold's `created_at_ms`) was in the past when it arrived, so the largest
// (server - local) among them is the closest to the true offset.
let clockOffset = null;
function sawServerTime(ms) {
  if (typeof ms !== "number") return;
  const offset = ms - Date.now();
  if (clockOffset === null || offset > clockOffset) clockOffset = offset;
}
const serverNow = () => Date.now() + (clockOffset ?? 0);

function say(text, kind = "error") {
  $("message").textContent = text;
  $("message").className = `message ${kind}`;
}

function applyStock(stock) {
  if (!product || stock.version < product.version) return; // versions only grow
  Object.assign(product, stock);
  render();
}

function render() {
  if (!product) return;
  $("name").textContent = product.name;
  document.title = `${product.name} – Flash sale`;
  $("price").textContent = Shop.money(product.price_cents);
  $("available").textContent = product.available;
  const share = product.total > 0 ? (100 * product.available) / product.total : 0;
  $("bar").style.width = `${share}%`;
  $("bar-label").setAttribute("aria-label", `${product.available} of ${product.total} left`);
  const now = serverNow();
  const notYet = product.sale_starts_at_ms && now < product.sale_starts_at_ms;
  const over = product.paused || (product.sale_ends_at_ms && now >= product.sale_ends_at_ms);
  $("countdown").textContent = product.paused ? "The sale is paused." : notYet ? `Sale opens in ${Shop.duration(product.sale_starts_at_ms - now)}` : over ? "The sale is closed." : "";
  $("product").classList.toggle("soldout", product.available === 0);
  $("reserve").disabled = product.available === 0 || notYet || over;
  $("reserve").textContent = product.available === 0 ? "Sold out" : "Reserve";
  const limit = Math.min(product.per_customer_limit || 10, 10);
  if ($("quantity").options.length !== limit) {
    $("quantity").replaceChildren(...Array.from({ length: limit }, (_, i) => new Option(String(i + 1), String(i + 1))));
  }
  renderHold();
}

function renderHold() {
  const active = [...holds.values()].filter(s => s === "HELD" || s === "CONFIRMED").length;
  $("hold-count").textContent = moreHolds ? `${active}+` : String(active);
  $("hold").hidden = !hold;
  if (!hold) return;
  // A held hold past its deadline is expired, swept or not.
  if (hold.state === "HELD" && serverNow() >= hold.expires_at_ms) setHoldState("EXPIRED");
  $("hold-quantity").textContent = hold.quantity;
  $("hold-sku").textContent = hold.sku;
  $("hold-state").textContent = {
    HELD: "held for you",
    CONFIRMED: "paying…",
    PURCHASED: "purchased ✓",
    CANCELLED: "released",
    EXPIRED: "expired: the units went back",
    RELEASED: "payment failed: the units went back",
  }[hold.state];
  $("hold-countdown").textContent = hold.state === "HELD" ? `Expires in ${Shop.duration(hold.expires_at_ms - serverNow())}` : "";
  $("hold-expiring").hidden = !(hold.expiring && hold.state === "HELD");
  $("buy").hidden = $("release").hidden = hold.state !== "HELD";
}

// Answers and hold events can arrive in either order (a fast worker's
// PURCHASED may beat the confirm's own answer), so a state only moves forward.
const RANK = { HELD: 0, CONFIRMED: 1, PURCHASED: 2, CANCELLED: 2, EXPIRED: 2, RELEASED: 2 };
const FINAL = state => RANK[state] === 2;

function track(id, state) {
  const known = holds.get(id);
  if (known === undefined || RANK[state] > RANK[known]) holds.set(id, state);
  return holds.get(id);
}

function setHoldState(state) {
  hold.state = track(hold.id, state);
}

/** Shows `found` as the page's hold, keeping what the page knew of it. */
function showHold(found) {
  const expiring = hold && hold.id === found.id && hold.expiring;
  hold = { ...found, expiring };
  setHoldState(found.state);
}

// The server's list of the shopper's live holds is the truth: read on load
// (a reload keeps the hold) and after every reconnect (events missed while
// offline are not replayed). A hold the page knew as live that is no longer
// listed has ended; its own read says how.
async function refreshHolds() {
  try {
    const [mine, all] = await Promise.all([
      Shop.api("GET", `/api/reservations?sku=${encodeURIComponent(sku)}&page_size=1`),
      Shop.api("GET", "/api/reservations?page_size=100"),
    ]);
    for (const r of [...mine.reservations, ...all.reservations]) sawServerTime(r.created_at_ms);
    moreHolds = Boolean(all.next_page_token);
    const listed = new Set(all.reservations.map(r => r.id));
    for (const r of all.reservations) track(r.id, r.state);
    const ended = [...holds].filter(([id, state]) => !FINAL(state) && !listed.has(id)).map(([id]) => id);
    if (hold && !FINAL(hold.state) && !ended.includes(hold.id) && !listed.has(hold.id)) ended.push(hold.id);
    await Promise.all(ended.map(async id => {
      const read = await Shop.api("GET", `/api/reservations/${encodeURIComponent(id)}`).catch(() => null);
      // Gone altogether (aged out): it is no longer live either way.
      track(id, read ? read.state : "EXPIRED");
      if (hold && hold.id === id && read) showHold(read);
    }));
    if (mine.reservations.length > 0 && (!hold || FINAL(hold.state) || hold.id === mine.reservations[0].id)) {
      showHold(mine.reservations[0]);
    }
    renderHold();
  } catch (e) {
    say(e.message);
  }
}

async function load() {
  try {
    product = await Shop.api("GET", `/api/products/${encodeURIComponent(sku)}`);
    render();
  } catch (e) {
    $("name").textContent = MESSAGES[e.code] || e.message;
  }
}

$("reserve-form").addEventListener("submit", async event => {
  event.preventDefault();
  say("");
  try {
    const answer = await Shop.api("POST", `/api/products/${encodeURIComponent(sku)}/reservations`, {
      quantity: Number($("quantity").value),
      request_id: crypto.randomUUID(),
    });
    sawServerTime(answer.reservation.created_at_ms);
    hold = answer.reservation;
    hold.state = track(hold.id, hold.state);
    applyStock({ ...product, available: answer.available, version: product.version });
    say("Reserved! Buy it before the hold expires.", "ok");
    renderHold();
    $("buy").focus();
  } catch (e) {
    say(MESSAGES[e.code] || e.message);
  }
});

$("buy").addEventListener("click", async () => {
  try {
    showHold(await Shop.api("POST", `/api/reservations/${encodeURIComponent(hold.id)}/confirm`));
    say("");
    renderHold();
  } catch (e) {
    say(e.code === "WRONG_STATE" ? "Your hold expired before you bought it." : e.message);
  }
});

$("release").addEventListener("click", async () => {
  try {
    showHold(await Shop.api("DELETE", `/api/reservations/${encodeURIComponent(hold.id)}`));
    renderHold();
  } catch (e) {
    say(e.message);
  }
});

const socket = Shop.connect($("connection"), { auth: { customer_id: customer } });
// On every (re)connect, watch again (the ack's snapshot catches the stock
// up) and read the holds again (a hold event missed offline is not resent).
socket.on("connect", async () => {
  const snapshot = await socket.timeout(5000).emitWithAck("watch", { sku }).catch(() => null);
  if (snapshot && !snapshot.error) applyStock(snapshot);
  refreshHolds();
});
socket.on("stock", stock => {
  sawServerTime(stock.at_ms);
  applyStock(stock);
});
socket.on("hold", event => {
  sawServerTime(event.at_ms);
  const state = track(event.reservation_id, event.state);
  if (hold && event.reservation_id === hold.id) {
    hold.state = state;
    if (event.expiring) hold.expiring = true;
  }
  renderHold();
});

setInterval(render, 250);
load();
