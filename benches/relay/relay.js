// The fan-out baseline: live stock relayed the way the original Node version
// of this system did it, so that benches/fanout.sh can give every api-server
// fan-out figure as a ratio to this one, measured in the same run on the same
// Redis with the same `flashload watch` clients.
//
//   node benches/relay/relay.js --redis-url redis://127.0.0.1:6379 --port 8090
//
// One process, one thread: socket.io 4 on HTTP (websocket and long-polling),
// ioredis `PSUBSCRIBE fs:stock:{*}`, and every message emitted to room
// `product:SKU` as it comes. It speaks the api-server's client protocol as
// far as flashload's watchers use it: `watch {sku}` with an ack answered by
// the product's snapshot (or `{"error": {code, message}}`), `unwatch {sku}`,
// `stock` events, pings at the api-server's interval.
//
// What it skips, as the original did: conflation (every event is emitted,
// none merged), shopper identity and `hold` events, the per-socket watch
// limit and the per-address caps, and the slow-consumer bound (socket.io
// queues without limit for a client that does not read). It needs one
// Redis node: on a Cluster the scripts SPUBLISH, which PSUBSCRIBE never sees.
// Prints `relay listening on HOST:PORT` once it takes connections.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");
const Redis = require("ioredis");

const option = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const redisUrl = option("redis-url", "redis://127.0.0.1:6379");
const host = option("host", "127.0.0.1");
const port = Number(option("port", "8090")); // 0: any free port, printed

// The key schema of reservation-core/src/keys/product.rs: every key of a
// product under its hash tag.
const STOCK_PATTERN = "fs:stock:{*}";
const productKey = (sku) => `fs:product:{${sku}}`;
const skuOfChannel = (channel) => channel.slice("fs:stock:{".length, -1);
// The SKU check of reservation-core's `Sku`: no brace may reach a key name.
const SKU = /^[A-Za-z0-9._-]{1,64}$/;

// A subscribed connection takes no other commands: snapshots need their own.
const subscriber = new Redis(redisUrl);
const redis = new Redis(redisUrl);

const server = http.createServer();
const io = new Server(server, {
  serveClient: false,
  // The api-server's heartbeat and largest client packet (LiveOptions), so
  // both servers answer the same pings.
  pingInterval: 15_000,
  pingTimeout: 10_000,
  maxHttpBufferSize: 16 * 1024,
});

const error = (code, message) => ({ error: { code, message } });

// The snapshot the api-server answers a watch with (a StockSnapshot), read
// from the product's hash in one HGETALL as its snapshot script does.
async function snapshot(sku) {
  const p = await redis.hgetall(productKey(sku));
  if (p.version === undefined) return error("NOT_FOUND", `product ${sku} not found`);
  return {
    sku,
    available: Number(p.available),
    held: Number(p.held),
    sold: Number(p.sold),
    total: Number(p.total),
    version: Number(p.version),
    at_ms: Number(p.updated_at),
    paused: p.paused === "1",
  };
}

io.on("connection", (socket) => {
  socket.on("watch", async (request, ack) => {
    if (typeof ack !== "function") return;
    const sku = request && request.sku;
    if (typeof sku !== "string" || !SKU.test(sku)) {
      return ack(error("INVALID_ARGUMENT", 'watch takes {"sku": "SKU"}'));
    }
    // Join first, then read, as the api-server does: a change landing in
    // between arrives as an event and shows in the snapshot, never neither.
    socket.join(`product:${sku}`);
    try {
      ack(await snapshot(sku));
    } catch (e) {
      ack(error("UNAVAILABLE", String(e)));
    }
  });
  socket.on("unwatch", (request, ack) => {
    const sku = request && request.sku;
    if (typeof sku === "string") socket.leave(`product:${sku}`);
    if (typeof ack === "function") ack({ ok: true });
  });
});

// The event JSON as the script published it, parsed once; socket.io encodes
// the packet once per emit and writes it to every socket of the room.
subscriber.on("pmessage", (_pattern, channel, message) => {
  io.to(`product:${skuOfChannel(channel)}`).emit("stock", JSON.parse(message));
});

(async () => {
  await subscriber.psubscribe(STOCK_PATTERN);
  await redis.ping();
  server.listen(port, host, () => {
    const address = server.address();
    console.log(`relay listening on ${address.address}:${address.port}`);
  });
})().catch((e) => {
  console.error(`relay: ${e}`);
  process.exit(1);
});

// benches/fanout.sh and the spec stop it with SIGTERM: exit at once.
process.on("SIGTERM", () => process.exit(0));
