// The pages in a real browser: Playwright driving the system's Chromium
// against a running api-server, purchase worker and Redis.
//
// usage: node browser.mjs BASE_URL MERCHANT_TOKEN SKU_A SKU_B SKU_C SCREENSHOT_DIR
// SKU_A and SKU_B need a few units, and SKU_A a hold of 2 seconds; SKU_C a
// hold of 6 seconds, on a server that sends expiry notices 3 seconds early.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { launchChromium } from "./chromium.mjs";

const [base, token, skuA, skuB, skuC, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const browser = await launchChromium();
const summary = {};

async function open(sku, query = "", skewMs = 0) {
  const context = await browser.newContext({ viewport: { width: 420, height: 860 } }); // a phone
  // A shopper whose clock is off: the page must count down on the server's.
  if (skewMs) await context.clock.setSystemTime(Date.now() + skewMs);
  const page = await context.newPage();
  page.on("pageerror", e => { throw e; });
  await page.goto(`${base}/p/${sku}${query}`);
  await page.locator("#connection", { hasText: "live" }).waitFor();
  return page;
}
const count = page => page.locator("#available").textContent().then(Number);

/** Counts the colours of a screenshot, in the browser, to tell it from a blank one. */
async function colours(page, png) {
  return page.evaluate(async data => {
    const image = new Image();
    image.src = `data:image/png;base64,${data}`;
    await image.decode();
    const canvas = new OffscreenCanvas(image.width, image.height);
    const ctx = canvas.getContext("2d");
    ctx.drawImage(image, 0, 0);
    const pixels = ctx.getImageData(0, 0, image.width, image.height).data;
    const seen = new Set();
    for (let i = 0; i < pixels.length; i += 16) seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
    return seen.size;
  }, png.toString("base64"));
}

/** The dashboard schedules a sale, pauses and resumes it (the start is
 * kept), then clears, sets and moves its bounds; its row counts down. */
async function scheduleFromDashboard(admin, sku) {
  const local = offsetMs => admin.evaluate(ms => {
    const d = new Date(Date.now() + ms);
    return new Date(d - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  }, offsetMs);
  const create = admin.getByRole("form", { name: "Create a product" });
  for (const [name, value] of [["sku", sku], ["name", "Scheduled"], ["price_cents", "500"], ["total", "5"]]) {
    await create.locator(`[name=${name}]`).fill(value);
  }
  await create.locator("[name=sale_starts_at]").fill(await local(3_600_000));
  await create.getByRole("button", { name: "Create product" }).click();
  const row = admin.locator(`tr[data-sku="${sku}"]`);
  const sale = row.locator("td").nth(7);
  await sale.filter({ hasText: /^opens in (1:00:00|59:\d\d)$/ }).waitFor({ timeout: 3000 });
  const { sale_starts_at_ms: opens } = await (await fetch(`${base}/api/products/${sku}`)).json();
  assert.ok(opens > Date.now(), "the start was saved");

  await row.getByRole("button", { name: "Pause" }).click();
  await sale.filter({ hasText: /^paused$/ }).waitFor({ timeout: 2000 });
  await row.getByRole("button", { name: "Resume" }).click();
  await sale.filter({ hasText: /^opens in / }).waitFor({ timeout: 2000 });
  assert.equal((await (await fetch(`${base}/api/products/${sku}`)).json()).sale_starts_at_ms, opens, "pause and resume kept the start");

  const schedule = admin.getByRole("form", { name: "Schedule a sale" });
  await schedule.getByLabel("Product").selectOption(sku);
  assert.notEqual(await schedule.getByLabel("Opens at").inputValue(), "", "the form shows the start");
  await schedule.getByLabel("Opens at").fill("");
  await schedule.getByLabel("Closes at").fill(await local(2 * 3_600_000));
  await schedule.getByRole("button", { name: "Save schedule" }).click();
  await sale.filter({ hasText: /^closes in (2:00:00|1:59:\d\d)$/ }).waitFor({ timeout: 3000 });
  await schedule.getByLabel("Closes at").fill("");
  await schedule.getByRole("button", { name: "Save schedule" }).click();
  await sale.filter({ hasText: /^open$/ }).waitFor({ timeout: 3000 });
  await schedule.getByLabel("Opens at").fill(await local(90 * 60_000));
  await schedule.getByRole("button", { name: "Save schedule" }).click();
  await sale.filter({ hasText: /^opens in 1:(30:00|29:\d\d)$/ }).waitFor({ timeout: 3000 });
  return true;
}

// Two pages on A, one on B; a reserve in one A page moves the other A page.
const a1 = await open(skuA);
const a2 = await open(skuA);
const b1 = await open(skuB);
const polling = await open(skuA, "?transport=polling");
assert.match(await polling.locator("#connection").textContent(), /polling/);
const [before, beforeB] = [await count(a2), await count(b1)];
await a1.locator("#quantity").selectOption("1");
const started = Date.now();
await a1.locator("#reserve").click();
await a1.locator("#hold").waitFor();
await a2.waitForFunction(n => Number(document.getElementById("available").textContent) === n, before - 1, { timeout: 1000 });
summary.other_page_ms = Date.now() - started;
await polling.waitForFunction(n => Number(document.getElementById("available").textContent) === n, before - 1, { timeout: 2000 });
assert.equal(await count(b1), beforeB, "the page of another product changed");

// Reserve → countdown → buy → purchased (the worker buys it).
assert.match(await a1.locator("#hold-countdown").textContent(), /Expires in/);
await a1.locator("#buy").click();
await a1.locator("#hold-state", { hasText: "purchased" }).waitFor({ timeout: 5000 });
assert.equal(await a1.locator("#hold-count").textContent(), "0");
summary.purchased = true;

// Reserve → let it expire → expired, and the count comes back up.
await a2.locator("#reserve").click();
await a2.locator("#hold").waitFor();
const held = await count(a2);
await a2.locator("#hold-state", { hasText: "expired" }).waitFor({ timeout: 5000 });
await a2.waitForFunction(n => Number(document.getElementById("available").textContent) === n, held + 1, { timeout: 5000 });
summary.expired = true;

await reloadsReconnectsAndNotices();

/** A hold survives a reload, a hold event missed offline is caught up on
 *  reconnect, and "expires soon" shows on the server's clock. */
async function reloadsReconnectsAndNotices() {
  // A reload keeps the hold: the page reads the shopper's holds from the server.
  const c = await open(skuC);
  await c.locator("#reserve").click();
  await c.locator("#hold-state", { hasText: "held for you" }).waitFor();
  await c.reload();
  await c.locator("#connection", { hasText: "live" }).waitFor();
  await c.locator("#hold-state", { hasText: "held for you" }).waitFor({ timeout: 2000 });
  assert.equal(await c.locator("#hold-count").textContent(), "1", "the badge counts the server's holds");
  assert.match(await c.locator("#hold-countdown").textContent(), /Expires in 0:0[1-6]/);
  summary.reload_kept_hold = true;

  // "Expires soon" arrives about 3 s before the deadline, as a hold event.
  await c.locator("#hold-expiring").waitFor({ timeout: 6000 });
  assert.match(await c.locator("#hold-countdown").textContent(), /Expires in 0:0[0-3]/);
  summary.expiring_notice = true;

  // A shopper ten minutes ahead of the server still sees the hold count down.
  const skewed = await open(skuC, "", 10 * 60 * 1000);
  await skewed.locator("#reserve").click();
  await skewed.locator("#hold-state", { hasText: "held for you" }).waitFor();
  assert.match(await skewed.locator("#hold-countdown").textContent(), /Expires in 0:0[1-6]/);
  summary.server_clock = true;

  // Offline while the worker buys the hold: the reconnect reads it again.
  const e = await open(skuA);
  await e.locator("#reserve").click();
  await e.locator("#hold-state", { hasText: "held for you" }).waitFor();
  const [id, shopper] = await e.evaluate(() => [hold.id, customer]);
  await e.evaluate(() => socket.disconnect());
  const call = (method, path) => fetch(`${base}${path}`, { method, headers: { "x-customer-id": shopper } }).then(r => r.json());
  await call("POST", `/api/reservations/${id}/confirm`);
  for (let i = 0; i < 50 && (await call("GET", `/api/reservations/${id}`)).state !== "PURCHASED"; i++) {
    await e.waitForTimeout(100);
  }
  assert.equal(await e.locator("#hold-state").textContent(), "held for you", "the page heard the purchase while offline");
  await e.evaluate(() => socket.connect());
  await e.locator("#hold-state", { hasText: "purchased" }).waitFor({ timeout: 3000 });
  summary.reconnect_reread = true;
}

// The dashboard: sign in, restock A, and the shopper page shows it live.
const admin = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
admin.on("pageerror", e => { throw e; });
await admin.goto(`${base}/admin`);
await admin.locator("#token").fill(token);
await admin.getByRole("button", { name: "Sign in" }).click();
const row = admin.locator(`tr[data-sku="${skuA}"]`);
await row.waitFor();
await admin.locator("#connection", { hasText: "live" }).waitFor();
const totalBefore = (await (await fetch(`${base}/api/products/${skuA}`)).json()).total;
await row.getByRole("spinbutton").fill("25");
// A live update while the merchant types keeps what was typed.
const version = Number(await row.locator("td").nth(6).textContent());
await fetch(`${base}/api/products/${skuA}/reservations`, {
  method: "POST",
  headers: { "content-type": "application/json", "x-customer-id": "typing" },
  body: JSON.stringify({ quantity: 1, request_id: "typing" }),
});
await admin.waitForFunction(([sku, v]) =>
  Number(document.querySelector(`tr[data-sku="${sku}"] td:nth-child(7)`).textContent) > v, [skuA, version], { timeout: 2000 });
assert.equal(await row.getByRole("spinbutton").inputValue(), "25", "a live update reset the amount being typed");
await row.getByRole("button", { name: "Restock" }).click();
await admin.locator("#message", { hasText: "Done." }).waitFor();
const restocked = await (await fetch(`${base}/api/products/${skuA}`)).json();
assert.equal(restocked.total, totalBefore + 25);
await a1.waitForFunction(n => Number(document.getElementById("available").textContent) === n, restocked.available, { timeout: 2000 });
await admin.locator("#orders tr").first().waitFor({ timeout: 5000 });
await row.getByRole("button", { name: "Chart" }).click();
summary.restock_seen = true;
// Shoppers reserve while the chart gathers a few seconds (one point a second).
for (let i = 0; i < 12; i++) {
  await fetch(`${base}/api/products/${skuA}/reservations`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-customer-id": `chart-${i}` },
    body: JSON.stringify({ quantity: 1 + (i % 3), request_id: `chart-${i}` }),
  });
  await admin.waitForTimeout(250);
}

summary.scheduled = await scheduleFromDashboard(admin, `${skuA}-SALE`);

// Screenshots, checked for content.
const shopShot = await a1.screenshot({ path: `${shots}/product-page.png`, fullPage: true });
const adminShot = await admin.screenshot({ path: `${shots}/dashboard.png`, fullPage: true });
summary.colours = { product: await colours(a1, shopShot), dashboard: await colours(admin, adminShot) };
assert.ok(summary.colours.product > 5 && summary.colours.dashboard > 5, "a screenshot is blank");

await browser.close();
console.log(JSON.stringify(summary));
