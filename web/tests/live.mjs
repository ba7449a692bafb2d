// The live channel, driven with the official socket.io-client as a browser
// would use it: websocket and polling-only clients watching two products,
// reserves made over the HTTP API, a client that drops and comes back, and a
// shopper's own hold events. Prints a JSON summary; exits non-zero on any
// violation.
//
// usage: node live.mjs BASE_URL SKU_A SKU_B

import assert from "node:assert/strict";
import { io } from "socket.io-client";

const [base, skuA, skuB] = process.argv.slice(2);
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

function connect(name, options = {}) {
  const socket = io(base, { forceNew: true, reconnection: false, ...options });
  socket.label = name;
  socket.stock = [];
  socket.holds = [];
  socket.on("stock", event => socket.stock.push(event));
  socket.on("hold", event => socket.holds.push(event));
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

const watch = (socket, payload) => socket.timeout(5000).emitWithAck("watch", payload);

async function reserve(sku, customer, requestId) {
  const response = await fetch(`${base}/api/products/${sku}/reservations`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-customer-id": customer },
    body: JSON.stringify({ quantity: 1, request_id: requestId }),
  });
  const body = await response.json();
  assert.equal(response.status, 201, JSON.stringify(body));
  return body.reservation;
}

async function product(sku) {
  return (await fetch(`${base}/api/products/${sku}`)).json();
}

/** Waits until `socket` has seen `version` of `sku` (by snapshot or event). */
async function converges(socket, sku, version, snapshot) {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const seen = [snapshot, ...socket.stock].filter(e => e && e.sku === sku);
    if (seen.some(e => e.version === version)) return;
    await sleep(20);
  }
  throw new Error(`${socket.label} never saw ${sku} version ${version}`);
}

function assertMonotonic(socket) {
  const versions = socket.stock.map(e => e.version);
  for (let i = 1; i < versions.length; i++) {
    assert.ok(versions[i] > versions[i - 1], `${socket.label} got versions ${versions}`);
  }
}

const summary = {};

// Websocket and polling-only clients on both products.
const aWs = await connect("A/websocket", { transports: ["websocket"] });
const aPoll = await connect("A/polling", { transports: ["polling"] });
const bWs = await connect("B/websocket", { transports: ["websocket"] });
const bPoll = await connect("B/polling", { transports: ["polling"] });
assert.equal(aPoll.io.engine.transport.name, "polling");

const snapshots = new Map();
for (const [socket, sku] of [[aWs, skuA], [aPoll, skuA], [bWs, skuB], [bPoll, skuB]]) {
  const snapshot = await watch(socket, { sku });
  assert.equal(snapshot.sku, sku, JSON.stringify(snapshot));
  for (const field of ["available", "held", "sold", "total", "version", "at_ms"]) {
    assert.equal(typeof snapshot[field], "number", `snapshot lacks ${field}`);
  }
  snapshots.set(socket, snapshot);
}
summary.snapshot_version = snapshots.get(aWs).version;

// Refusals come back in the ack.
summary.errors = {
  braced: (await watch(aWs, { sku: "{A}" })).error.code,
  unknown: (await watch(aWs, { sku: "NO-SUCH-SKU" })).error.code,
  not_a_string: (await watch(aWs, { sku: 42 })).error.code,
};
assert.deepEqual(summary.errors, { braced: "INVALID_ARGUMENT", unknown: "NOT_FOUND", not_a_string: "INVALID_ARGUMENT" });

// Reserves on A reach every A watcher and no B watcher.
for (let i = 0; i < 5; i++) await reserve(skuA, `shopper-${i}`, `live-${i}`);
const finalA = await product(skuA);
for (const socket of [aWs, aPoll]) await converges(socket, skuA, finalA.version, snapshots.get(socket));
await sleep(300);
for (const socket of [aWs, aPoll, bWs, bPoll]) assertMonotonic(socket);
for (const socket of [aWs, aPoll]) assert.ok(socket.stock.every(e => e.sku === skuA));
for (const socket of [bWs, bPoll]) assert.equal(socket.stock.length, 0, `${socket.label} heard of A`);
summary.final_version = finalA.version;
summary.events = { a_websocket: aWs.stock.length, a_polling: aPoll.stock.length, b: bWs.stock.length + bPoll.stock.length };

// Unwatch: no more events for that socket.
assert.deepEqual(await aPoll.timeout(5000).emitWithAck("unwatch", { sku: skuA }), { ok: true });
const beforeUnwatched = aPoll.stock.length;

// A client that drops, misses changes, and comes back converges on the snapshot.
aWs.disconnect();
await reserve(skuA, "shopper-late-1", "live-late-1");
await reserve(skuA, "shopper-late-2", "live-late-2");
aWs.connect();
await new Promise(resolve => aWs.once("connect", resolve));
const rejoined = await watch(aWs, { sku: skuA });
const latest = await product(skuA);
assert.equal(rejoined.version, latest.version, "the snapshot on re-watch is the latest");
summary.reconnect_version = rejoined.version;
await sleep(300);
assert.equal(aPoll.stock.length, beforeUnwatched, "an unwatched socket got events");

// A shopper's socket gets hold events for their own holds only.
const carol = await connect("carol", { auth: { customer_id: "carol" } });
const dave = await connect("dave", { auth: { customer_id: "dave" } });
const hold = await reserve(skuB, "carol", "carol-1");
const deadline = Date.now() + 5000;
while (carol.holds.length === 0 && Date.now() < deadline) await sleep(20);
assert.equal(carol.holds[0]?.reservation_id, hold.id);
assert.equal(carol.holds[0]?.state, "HELD");
await sleep(200);
assert.equal(dave.holds.length, 0, "dave heard of carol's hold");
summary.hold_event = carol.holds[0].state;

for (const socket of [aWs, aPoll, bWs, bPoll, carol, dave]) socket.disconnect();
console.log(JSON.stringify(summary));
