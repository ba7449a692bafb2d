// Shared by the pages: who the shopper is, the live connection, and the API.
"use strict";

const Shop = (() => {
  // The shopper's id lives in a cookie the HTTP API and Socket.IO both read.
  function customerId() {
    const found = document.cookie.split("; ").find(c => c.startsWith("flashsale_customer="));
    if (found) return found.split("=")[1];
    const id = "shopper-" + crypto.randomUUID();
    document.cookie = `flashsale_customer=${id}; path=/; max-age=31536000; samesite=lax`;
    return id;
  }

  // ?transport=polling forces long-polling, as a network that blocks
  // websockets would.
  function connect(statusElement, options = {}) {
    const forcePolling = new URLSearchParams(location.search).get("transport") === "polling";
    const socket = io({ ...(forcePolling ? { transports: ["polling"] } : {}), ...options });
    const show = (state, text) => {
      statusElement.dataset.state = state;
      statusElement.textContent = text;
    };
    const live = () => show("live", `live (${socket.io.engine.transport.name})`);
    socket.on("connect", () => {
      live();
      socket.io.engine.once("upgrade", live);
    });
    socket.on("disconnect", () => show("reconnecting", "reconnecting…"));
    socket.on("connect_error", () => show("reconnecting", "reconnecting…"));
    return socket;
  }

  async function api(method, path, body, headers = {}) {
    const response = await fetch(path, {
      method,
      headers: { ...(body ? { "content-type": "application/json" } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = new Error(data?.error?.message || response.statusText);
      error.code = data?.error?.code;
      throw error;
    }
    return data;
  }

  const money = cents => (cents / 100).toLocaleString(undefined, { style: "currency", currency: "EUR" });
  const duration = ms => {
    const s = Math.max(0, Math.ceil(ms / 1000));
    return s >= 3600 ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  };
  return { customerId, connect, api, money, duration };
})();
