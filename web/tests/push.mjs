// "Notify me" and the service worker in a real browser: Playwright driving the
// system's Chromium against a running api-server (with a VAPID key) and Redis.
//
// usage: node push.mjs BASE_URL SKU_SOON SKU_OPEN SCREENSHOT_DIR
// SKU_SOON's sale opens in the future; SKU_OPEN is on sale.
//
// Chromium here reaches no push service, so a real `pushManager.subscribe`
// fails: the page must say so in words. Pushes are delivered to the service
// worker through the DevTools protocol (ServiceWorker.deliverPushMessage) and
// the notifications it shows are read back with getNotifications(). The
// subscribe → POST → turn off → DELETE round trip against the real routes
// runs with a stand-in PushManager that hands out a made-up subscription.
// Not covered: a click on a notification (CDP cannot click one), and
// `pushsubscriptionchange` (Chromium never fires it).

import assert from "node:assert/strict";
import { createECDH, randomBytes, randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { launchChromium } from "./chromium.mjs";

const [base, skuSoon, skuOpen, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const browser = await launchChromium();
const summary = {};
const origin = new URL(base).origin;

/** A phone-sized context; `grant` allows notifications, `init` runs in every page first. */
async function context({ grant = true, init } = {}) {
  const ctx = await browser.newContext({ viewport: { width: 420, height: 1000 } });
  if (grant) await ctx.grantPermissions(["notifications"], { origin });
  if (init) await ctx.addInitScript(init.script, init.arg);
  return ctx;
}

async function open(ctx, sku) {
  const page = await ctx.newPage();
  page.on("pageerror", e => { throw e; });
  await page.goto(`${base}/p/${sku}`);
  await page.locator("#name", { hasText: `Product ${sku}` }).waitFor();
  return page;
}

const state = page => page.locator("#notify-state");
const interests = page => page.evaluate(() => fetch("/api/push/subscriptions").then(r => r.json()));

// The service worker is served as JavaScript, from the root (scope: the whole shop).
const sw = await fetch(`${base}/sw.js`);
assert.equal(sw.status, 200);
assert.match(sw.headers.get("content-type"), /^(text|application)\/javascript/);

await hiddenWhenPushIsOff();
summary.hidden_without_push = true;

// A real subscribe: the page registers its worker, shows "Notify me", and a
// failure to reach the push service is said in words, not thrown.
const ctx = await context();
const page = await open(ctx, skuSoon);
const cdp = await ctx.newCDPSession(page);
const registrations = [];
cdp.on("ServiceWorker.workerRegistrationUpdated", e => registrations.push(...e.registrations));
await cdp.send("ServiceWorker.enable");
await page.locator("#notify").waitFor();
assert.ok(await page.getByLabel("the sale opens").isVisible(), "the sale has not opened: the page offers to say when");
const registration = await page.evaluate(() => navigator.serviceWorker.ready.then(r => ({ scope: r.scope, script: r.active.scriptURL })));
assert.deepEqual(registration, { scope: `${origin}/`, script: `${origin}/sw.js` });
await page.getByRole("button", { name: "Notify me" }).click();
await state(page).filter({ hasText: /./ }).waitFor();
const answer = await state(page).textContent();
if (/We'll notify you/.test(answer)) {
  // A Chromium that can reach its push service: the server has the subscription.
  assert.ok((await interests(page)).some(i => i.sku === skuSoon), answer);
  summary.subscribe = "subscribed";
} else {
  assert.equal(await state(page).getAttribute("class"), "message error");
  assert.match(answer, /could not reach its notification service/);
  summary.subscribe = `refused in words: ${answer}`;
}

await pushesShowNotifications();
await blockedNotificationsAreSaidInWords();
await subscribeAndTurnOffAgainstTheServer();
await serverRefusalsAreSaidInWords();

await browser.close();
console.log(JSON.stringify(summary));

/** The panel stays hidden when the shop has no VAPID key (503) or the browser has no PushManager. */
async function hiddenWhenPushIsOff() {
  const off = await context();
  const page = await off.newPage();
  page.on("pageerror", e => { throw e; });
  await page.route("**/api/push/vapid-public-key", route => route.fulfill({
    status: 503, json: { error: { code: "PUSH_UNAVAILABLE", message: "web push is off" } },
  }));
  const asked = page.waitForResponse("**/api/push/vapid-public-key");
  await page.goto(`${base}/p/${skuOpen}`);
  assert.equal((await asked).status(), 503);
  await page.locator("#name", { hasText: `Product ${skuOpen}` }).waitFor();
  await page.waitForTimeout(300);
  assert.ok(await page.locator("#notify").isHidden(), "shown without a VAPID key");
  assert.equal(await page.evaluate(() => navigator.serviceWorker.getRegistrations().then(r => r.length)), 0);

  const old = await context({ init: { script: () => { delete window.PushManager; } } });
  const oldPage = await open(old, skuOpen);
  await oldPage.waitForTimeout(300);
  assert.ok(await oldPage.locator("#notify").isHidden(), "shown in a browser without PushManager");
  await off.close();
  await old.close();
}

/** Pushes delivered through the DevTools protocol, as a push service would. */
async function pushesShowNotifications() {
  const scope = registrations.find(r => r.scopeURL === `${origin}/` && !r.isDeleted);
  assert.ok(scope, `no registration for ${origin}/ in ${JSON.stringify(registrations)}`);
  const deliver = data => cdp.send("ServiceWorker.deliverPushMessage", { origin, registrationId: scope.registrationId, data });
  // Chromium can drop a notification that getNotifications() reads while
  // showNotification() writes it, so the notifications are read only once the
  // worker has shown the push's: the test counts its showNotification calls
  // (DevTools, attached to the worker, keeps it running between pushes).
  const worker = ctx.serviceWorkers().find(w => w.url() === `${origin}/sw.js`) ?? await ctx.waitForEvent("serviceworker");
  assert.ok(worker, "the service worker is running");
  await worker.evaluate(() => {
    const show = self.registration.showNotification.bind(self.registration);
    self.testShown = 0;
    self.registration.showNotification = (...args) => show(...args).finally(() => { self.testShown += 1; });
  });
  const shown = () => page.evaluate(() => navigator.serviceWorker.ready
    .then(r => r.getNotifications())
    .then(all => all.map(n => ({ title: n.title, body: n.body, tag: n.tag, url: n.data?.url, renotify: n.renotify }))
      .sort((a, b) => a.tag.localeCompare(b.tag))));
  const clear = () => page.evaluate(() => navigator.serviceWorker.ready
    .then(r => r.getNotifications()).then(all => all.forEach(n => n.close())));
  /** Delivers `data` and returns what is shown once the worker has shown it. */
  async function push(data) {
    const before = await worker.evaluate(() => self.testShown);
    await deliver(data);
    for (let i = 0; i < 50 && (await worker.evaluate(() => self.testShown)) === before; i++) {
      await page.waitForTimeout(100);
    }
    assert.equal(await worker.evaluate(() => self.testShown), before + 1, `the push ${data} showed nothing`);
    return shown();
  }
  // The payload as the purchase workers send it (docs/api.md).
  const payload = (kind, sku, title, body, extra = {}) => JSON.stringify({
    kind, sku, title, body, url: `/p/${sku}`, available: 20, at_ms: Date.now(), tag: `${kind}:${sku}`, ...extra,
  });

  const opens = await push(payload("sale_opens", skuSoon, `Product ${skuSoon}: the sale is open`, "20 left at 10,00 €"));
  assert.deepEqual(opens, [{
    title: `Product ${skuSoon}: the sale is open`, body: "20 left at 10,00 €", tag: `sale_opens:${skuSoon}`,
    url: `${origin}/p/${skuSoon}`, renotify: true,
  }]);
  summary.notification_shown = true;

  // The same tag replaces the one shown; urgent news alerts again.
  const moved = await push(payload("sale_opens", skuSoon, `Product ${skuSoon}: the sale is open`, "18 left"));
  assert.deepEqual(moved.map(n => [n.tag, n.body, n.renotify]), [[`sale_opens:${skuSoon}`, "18 left", true]]);
  // A newer "back in stock" only updates the count, silently.
  await push(payload("back_in_stock", skuOpen, `Product ${skuOpen} is back`, "3 left"));
  const back = await push(payload("back_in_stock", skuOpen, `Product ${skuOpen} is back`, "2 left"));
  assert.deepEqual(back.map(n => [n.tag, n.body, n.renotify]), [
    [`back_in_stock:${skuOpen}`, "2 left", false],
    [`sale_opens:${skuSoon}`, "18 left", true],
  ]);
  summary.same_tag_replaces = true;

  // A push without a payload, or not JSON, still shows something (userVisibleOnly).
  await clear();
  const generic = { title: "Flash sale", body: "There is news about a product you follow.", tag: "", url: `${origin}/`, renotify: false };
  assert.deepEqual(await push(""), [generic]);
  assert.deepEqual(await push("not json"), [generic, generic]);
  summary.generic_notification = true;

  // A link off the shop is never followed: the shop's home instead.
  await clear();
  const foreign = await push(payload("hold_expiring", skuOpen, "Your hold expires soon", "Buy it now", { url: "https://elsewhere.example/p/X" }));
  assert.deepEqual(foreign.map(n => [n.tag, n.url]), [[`hold_expiring:${skuOpen}`, `${origin}/`]]);
  summary.foreign_url_ignored = true;
  await clear();
}

/** A shopper who refuses notifications (headless Chromium denies the prompt) is told how to allow them. */
async function blockedNotificationsAreSaidInWords() {
  const refused = await context({ grant: false });
  const page = await open(refused, skuOpen);
  await page.locator("#notify").waitFor();
  await page.getByRole("button", { name: "Notify me" }).click();
  await state(page).filter({ hasText: /./ }).waitFor();
  assert.match(await state(page).textContent(), /Notifications are blocked for this shop|did not allow notifications/);
  assert.deepEqual(await interests(page), []);
  summary.denied_in_words = true;
  await refused.close();
}

/** A stand-in PushManager (Chromium reaches no push service here), kept in
 *  localStorage so that every page of the context shares one subscription. */
function standIn({ endpoint, p256dh, auth }) {
  const KEY = "test-push-subscription";
  const made = key => ({
    endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: Uint8Array.from(key).buffer },
    toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh, auth } }),
    unsubscribe: async () => {
      localStorage.removeItem(KEY);
      localStorage.setItem("test-push-unsubscribes", String(Number(localStorage.getItem("test-push-unsubscribes") ?? 0) + 1));
      return true;
    },
  });
  PushManager.prototype.subscribe = async function (options) {
    const key = [...new Uint8Array(options.applicationServerKey)];
    localStorage.setItem(KEY, JSON.stringify(key));
    return made(key);
  };
  PushManager.prototype.getSubscription = async function () {
    const key = localStorage.getItem(KEY);
    return key ? made(JSON.parse(key)) : null;
  };
}

async function subscribeAndTurnOffAgainstTheServer() {
  const endpoint = `https://push.example.test/wpush/v2/${randomUUID()}`;
  const p256dh = createECDH("prime256v1").generateKeys().toString("base64url");
  const auth = randomBytes(16).toString("base64url");
  const ctx = await context({ init: { script: standIn, arg: { endpoint, p256dh, auth } } });
  const unsubscribes = page => page.evaluate(() => Number(localStorage.getItem("test-push-unsubscribes") ?? 0));

  // Every topic, on the product whose sale has not opened.
  const soon = await open(ctx, skuSoon);
  await soon.locator("#notify").waitFor();
  await soon.screenshot({ path: `${shots}/notify-me.png`, fullPage: true });
  const posted = soon.waitForRequest(r => r.method() === "POST" && r.url().endsWith(`/api/products/${skuSoon}/push-subscriptions`));
  await soon.getByRole("button", { name: "Notify me" }).click();
  assert.deepEqual((await posted).postDataJSON(), {
    subscription: { endpoint, expirationTime: null, keys: { p256dh, auth } },
    notify: ["sale_opens", "back_in_stock", "hold_expiring"],
  });
  await state(soon).filter({ hasText: "We'll notify you when the sale opens, it is back in stock or your hold is about to expire." }).waitFor();
  await soon.screenshot({ path: `${shots}/notify-me-on.png`, fullPage: true });

  // On sale already: no "sale opens" choice; one topic chosen.
  const onSale = await open(ctx, skuOpen);
  await onSale.locator("#notify").waitFor();
  assert.ok(await onSale.getByLabel("the sale opens").isHidden(), "the sale is open: nothing to wait for");
  await onSale.getByLabel("my hold is about to expire").uncheck();
  await onSale.getByRole("button", { name: "Notify me" }).click();
  await state(onSale).filter({ hasText: "We'll notify you when it is back in stock." }).waitFor();
  const both = await interests(onSale);
  assert.deepEqual(both.map(i => [i.sku, i.endpoint, i.notify]).sort(), [
    [skuOpen, endpoint, ["back_in_stock"]],
    [skuSoon, endpoint, ["sale_opens", "back_in_stock", "hold_expiring"]],
  ]);
  summary.subscribed_through_the_server = true;

  // Nothing chosen: said, not sent.
  await onSale.getByLabel("it is back in stock").uncheck();
  await onSale.getByRole("button", { name: "Save changes" }).click();
  await state(onSale).filter({ hasText: "Choose at least one thing to be told about." }).waitFor();
  await onSale.getByLabel("it is back in stock").check();

  // A reload shows what was asked for, from the server.
  await soon.reload();
  await state(soon).filter({ hasText: "We'll notify you when the sale opens" }).waitFor();
  assert.ok(await soon.getByRole("button", { name: "Turn off" }).isVisible());
  summary.reload_shows_state = true;

  // Off for one product: the browser's subscription stays for the other.
  await soon.getByRole("button", { name: "Turn off" }).click();
  await state(soon).filter({ hasText: "Notifications are off for this product." }).waitFor();
  assert.deepEqual((await interests(soon)).map(i => i.sku), [skuOpen]);
  assert.equal(await unsubscribes(soon), 0, "unsubscribed while another product uses it");
  // Off for the last one: the browser's subscription goes too.
  await onSale.getByRole("button", { name: "Turn off" }).click();
  await state(onSale).filter({ hasText: "Notifications are off for this product." }).waitFor();
  assert.deepEqual(await interests(onSale), []);
  assert.equal(await unsubscribes(onSale), 1, "the last product kept the subscription");
  assert.ok(await onSale.getByRole("button", { name: "Notify me" }).isVisible());
  summary.turned_off = true;
  await ctx.close();
}

/** What the server refuses, in the shopper's words (answers stood in by the test). */
async function serverRefusalsAreSaidInWords() {
  const endpoint = `https://push.example.test/wpush/v2/${randomUUID()}`;
  const p256dh = createECDH("prime256v1").generateKeys().toString("base64url");
  const ctx = await context({ init: { script: standIn, arg: { endpoint, p256dh, auth: randomBytes(16).toString("base64url") } } });
  const page = await open(ctx, skuOpen);
  await page.locator("#notify").waitFor();
  for (const [status, code, words] of [
    [409, "TOO_MANY_SUBSCRIPTIONS", "You already get notifications for too many products"],
    [422, "INVALID_ARGUMENT", "The shop refused this browser's notification address"],
    [500, "INTERNAL", "The shop could not save this right now"],
  ]) {
    await page.route("**/push-subscriptions", route => route.fulfill({ status, json: { error: { code, message: "no" } } }));
    await page.getByRole("button", { name: "Notify me" }).click();
    await state(page).filter({ hasText: words }).waitFor();
    await page.unroute("**/push-subscriptions");
  }
  // A subscription made for a refused click is dropped again.
  assert.equal(await page.evaluate(() => localStorage.getItem("test-push-subscription")), null);
  summary.refusals_in_words = true;
  await ctx.close();
}
