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
  $("notify-sale-opens-row").hidden = !notYet;
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

// "Notify me": web pushes that reach the shopper with the page closed (sw.js
// shows them). The browser has one push subscription for the whole shop,
// shared by every product followed; the server keeps which products and
// topics go with it. Permission is asked on the click, never on load.
const notify = { key: null };
const NOTIFY_ERRORS = {
  denied: "Notifications are blocked for this shop. Allow them in your browser's site settings, then try again.",
  dismissed: "You did not allow notifications, so we can't notify you.",
  unsupported: "This browser cannot receive notifications from shops.",
  "push-service": "Your browser could not reach its notification service. Try again later.",
  "too-many": "You already get notifications for too many products: turn one off, then try again.",
  "no-product": MESSAGES.NOT_FOUND,
  refused: "The shop refused this browser's notification address. Try another browser.",
  server: "The shop could not save this right now. Try again later.",
};
const TOPIC_WORDS = { sale_opens: "the sale opens", back_in_stock: "it is back in stock", hold_expiring: "your hold is about to expire" };
const notifyFailure = why => Object.assign(new Error(NOTIFY_ERRORS[why]), { why });
const pushPath = () => `/api/products/${encodeURIComponent(sku)}/push-subscriptions`;

function notifyState(text, kind = "ok") {
  $("notify-state").textContent = text;
  $("notify-state").className = `message ${kind}`;
}

/** A push route's body; an error carries the status (the page tells 409 and 503 apart). */
async function pushCall(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status });
  return text ? JSON.parse(text) : null;
}

/** The shopper's interests, every product: `[{id, sku, endpoint, notify}]`. */
async function myInterests() {
  const data = await pushCall("GET", "/api/push/subscriptions");
  return Array.isArray(data) ? data : data?.subscriptions ?? [];
}

function base64urlBytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "=")), c => c.charCodeAt(0));
}
const sameBytes = (buffer, bytes) => Boolean(buffer) && buffer.byteLength === bytes.length && new Uint8Array(buffer).every((b, i) => b === bytes[i]);

/** The visible topics ticked ("the sale opens" shows only before it does). */
const chosenTopics = () => [...$("notify-topics").querySelectorAll("input:checked")].filter(box => !box.parentElement.hidden).map(box => box.value);

function showNotifyOn(topics) {
  for (const box of $("notify-topics").querySelectorAll("input")) box.checked = topics.includes(box.value);
  const words = topics.map(t => TOPIC_WORDS[t]).filter(Boolean);
  const list = words.length > 1 ? `${words.slice(0, -1).join(", ")} or ${words.at(-1)}` : words[0];
  $("notify-on").textContent = "Save changes";
  $("notify-off").hidden = false;
  notifyState(`We'll notify you when ${list}.`);
}

function showNotifyOff(text, kind = "ok") {
  $("notify-on").textContent = "Notify me";
  $("notify-off").hidden = true;
  notifyState(text, kind);
}

/** The browser's subscription, made now (`fresh`) or already there. */
async function browserSubscription() {
  const registration = await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  // Made for a VAPID key the shop no longer uses: nothing could reach it.
  if (subscription && !sameBytes(subscription.options.applicationServerKey, notify.key)) {
    await subscription.unsubscribe();
    subscription = null;
  }
  if (subscription) return { subscription, fresh: false };
  try {
    const made = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: notify.key });
    return { subscription: made, fresh: true };
  } catch (e) {
    throw notifyFailure(e.name === "NotSupportedError" ? "unsupported" : e.name === "NotAllowedError" ? "denied" : "push-service");
  }
}

async function turnNotifyOn() {
  const topics = chosenTopics();
  if (topics.length === 0) return notifyState("Choose at least one thing to be told about.", "error");
  const permission = Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
  if (permission !== "granted") throw notifyFailure(permission === "denied" ? "denied" : "dismissed");
  const { subscription, fresh } = await browserSubscription();
  try {
    const saved = await pushCall("POST", pushPath(), { subscription: subscription.toJSON(), notify: topics });
    showNotifyOn(saved?.notify ?? topics);
  } catch (e) {
    // Nothing else uses a subscription made for this click.
    if (fresh) await subscription.unsubscribe().catch(() => {});
    const status = e.status ?? 0;
    throw notifyFailure(status === 409 ? "too-many" : status === 404 ? "no-product" : status >= 400 && status < 500 ? "refused" : "server");
  }
}

async function turnNotifyOff() {
  const registration = await navigator.serviceWorker.ready;
  const subscription = await registration.pushManager.getSubscription();
  if (subscription) {
    await pushCall("DELETE", pushPath(), { endpoint: subscription.endpoint }).catch(e => {
      if (e.status !== 404) throw e; // 404: already off
    });
    // The last product followed takes the browser's subscription with it.
    const left = (await myInterests()).filter(i => i.endpoint === subscription.endpoint);
    if (left.length === 0) await subscription.unsubscribe();
  }
  showNotifyOff("Notifications are off for this product.");
}

/** A click's work, with the button held down and any failure said in words. */
const notifyAction = (button, work, fallback) => async () => {
  $(button).disabled = true;
  try {
    await work();
  } catch (e) {
    notifyState(e.why ? e.message : fallback, "error");
  } finally {
    $(button).disabled = false;
  }
};
$("notify-on").addEventListener("click", notifyAction("notify-on", turnNotifyOn, NOTIFY_ERRORS.server));
$("notify-off").addEventListener("click", notifyAction("notify-off", turnNotifyOff, "We could not turn notifications off. Try again."));

/** Shows "Notify me" when this browser can get pushes and the shop sends them
 *  (its key route answers 503 when it does not), with what was asked before. */
async function setUpNotify() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return;
  let registration;
  try {
    notify.key = base64urlBytes((await pushCall("GET", "/api/push/vapid-public-key")).public_key);
    registration = await navigator.serviceWorker.register("/sw.js");
  } catch {
    return;
  }
  $("notify").hidden = false;
  if (Notification.permission === "denied") return notifyState(NOTIFY_ERRORS.denied, "error");
  try {
    const subscription = await registration.pushManager.getSubscription();
    const mine = subscription && (await myInterests()).find(i => i.sku === sku && i.endpoint === subscription.endpoint);
    if (mine) showNotifyOn(mine.notify);
  } catch {
    // Unknown: the shopper can still turn it on.
  }
}

setInterval(render, 250);
load();
setUpNotify();
