// A node shutting down, as the official socket.io-client sees it: a
// websocket client and a polling-only client, connected and watching, are
// cut off by the server. Each must take that for a lost connection and stay
// active, as socket.io-client then reconnects it (through the load balancer,
// to another node); after a Socket.IO disconnect it would not come back.
// Prints "connected" once both are, then a JSON summary once both are cut
// off; exits non-zero if they are not within 15 s.
//
// usage: node shutdown.mjs BASE_URL SKU

import { io } from "socket.io-client";

const [base, sku] = process.argv.slice(2);

async function connect(transports) {
  // The next try would be a minute away: the summary is printed before it.
  const socket = io(base, {
    forceNew: true,
    transports,
    reconnectionDelay: 60_000,
    randomizationFactor: 0,
  });
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  await socket.timeout(5000).emitWithAck("watch", { sku });
  return socket;
}

const sockets = {
  websocket: await connect(["websocket"]),
  polling: await connect(["polling"]),
};
const cutOff = Object.entries(sockets).map(
  ([name, socket]) =>
    new Promise(resolve =>
      socket.once("disconnect", reason => resolve([name, { reason, active: socket.active }])),
    ),
);
console.log("connected");

const timer = setTimeout(() => {
  console.error("the sockets were not cut off within 15 s");
  process.exit(1);
}, 15_000);
const summary = Object.fromEntries(await Promise.all(cutOff));
clearTimeout(timer);
for (const socket of Object.values(sockets)) socket.close();
console.log(JSON.stringify(summary));
