// The shop's service worker: it shows the web pushes the purchase workers send
// ("the sale is open", "back in stock", "your hold expires soon") while no tab
// of the shop is open, and a click on one opens, or focuses, the product page.
// Served at /sw.js so that its scope is the whole origin. It has no fetch
// handler: the pages are never served from a cache.
"use strict";

// A push the browser made us accept with userVisibleOnly must show something,
// even when its payload is missing or is not ours to read.
const GENERIC = { title: "Flash sale", body: "There is news about a product you follow." };

// A new version takes over at once: it only shows notifications, so no page
// depends on the old one.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", event => event.waitUntil(self.clients.claim()));

/** `url` resolved against the shop, or null when it points elsewhere: a
 *  notification only ever opens the shop's own pages. */
function shopUrl(url) {
  if (typeof url !== "string" || url === "") return null;
  try {
    const resolved = new URL(url, self.location.origin);
    return resolved.origin === self.location.origin ? resolved.href : null;
  } catch {
    return null;
  }
}

/** The payload as an object (`{kind, sku, title, body, url, available,
 *  at_ms, tag}`, see docs/api.md), or null when there is none or it is not JSON. */
function payloadOf(event) {
  if (!event.data) return null;
  try {
    const payload = event.data.json();
    return payload && typeof payload === "object" && !Array.isArray(payload) ? payload : null;
  } catch {
    return null;
  }
}

const text = (value, fallback) => (typeof value === "string" && value.trim() !== "" ? value : fallback);

function show(payload) {
  if (!payload) {
    return self.registration.showNotification(GENERIC.title, { body: GENERIC.body, data: { url: shopUrl("/") } });
  }
  const options = {
    body: text(payload.body, GENERIC.body),
    data: { url: shopUrl(payload.url) ?? shopUrl("/"), kind: payload.kind, sku: payload.sku },
  };
  if (typeof payload.at_ms === "number") options.timestamp = payload.at_ms;
  const tag = text(payload.tag, "");
  if (tag) {
    // The same tag (`KIND:SKU`) replaces the notification still shown.
    // `renotify` alerts again when the news is urgent (the sale opened at a
    // new time, another hold expires soon); a newer "back in stock" only
    // updates the count of the one the shopper has not read yet. It has no
    // effect when nothing is replaced, so the shown ones are not looked up:
    // a getNotifications() racing a showNotification() can lose the new one
    // in Chromium.
    options.tag = tag;
    options.renotify = payload.kind !== "back_in_stock";
  }
  return self.registration.showNotification(text(payload.title, GENERIC.title), options);
}

self.addEventListener("push", event => {
  event.waitUntil(Promise.resolve().then(() => show(payloadOf(event))).catch(() => show(null)));
});

self.addEventListener("notificationclick", event => {
  event.notification.close();
  const url = shopUrl(event.notification.data?.url);
  if (!url) return;
  event.waitUntil((async () => {
    // A tab already on that page (whatever its query, e.g. ?transport=polling)
    // is brought forward rather than opening a second one.
    const wanted = new URL(url);
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find(client => {
      const at = new URL(client.url);
      return at.origin === wanted.origin && at.pathname === wanted.pathname;
    });
    if (open) return open.focus();
    return self.clients.openWindow(url);
  })());
});

/** The server's VAPID public key as the bytes `subscribe` takes. */
async function serverKey() {
  const answer = await fetch("/api/push/vapid-public-key");
  if (!answer.ok) throw new Error(`no VAPID key: ${answer.status}`);
  const base64 = (await answer.json()).public_key.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "=")), c => c.charCodeAt(0));
}

// Best effort: when the push service replaces the browser's subscription, the
// products the old endpoint was registered for are registered again with the
// new one (this worker's requests carry the shopper's cookie, as the page's
// do). Browsers that do not say which subscription was replaced (Chromium
// fires no such event at all) leave the old endpoint to be removed by the
// server when its push service answers 404 or 410; the shopper then turns
// "Notify me" on again on the product page.
self.addEventListener("pushsubscriptionchange", event => {
  const old = event.oldSubscription;
  if (!old) return;
  event.waitUntil((async () => {
    const fresh = event.newSubscription ?? await self.registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: old.options?.applicationServerKey ?? await serverKey(),
    });
    const listed = await fetch("/api/push/subscriptions");
    if (!listed.ok) return;
    const data = await listed.json();
    const interests = (Array.isArray(data) ? data : data.subscriptions ?? []).filter(i => i.endpoint === old.endpoint);
    const json = { "content-type": "application/json" };
    for (const interest of interests) {
      const path = `/api/products/${encodeURIComponent(interest.sku)}/push-subscriptions`;
      const saved = await fetch(path, {
        method: "POST", headers: json,
        body: JSON.stringify({ subscription: fresh.toJSON(), notify: interest.notify }),
      });
      if (saved.ok) {
        await fetch(path, { method: "DELETE", headers: json, body: JSON.stringify({ endpoint: old.endpoint }) });
      }
    }
  })().catch(() => {}));
});
