//! Live stock over Socket.IO, one idea a file:
//!
//! - `official_client.rs`: the official `socket.io-client`, under Node, over
//!   websocket and long-polling;
//! - `fan_out.rs`: stock events reach every watcher, on any node, and end on
//!   the newest state: a thousand sockets, another process's node, conflated
//!   bursts, a Redis restart;
//! - `watches.rs`: `watch` and `unwatch` refused in their acks, the watch
//!   limit, and floods of them from one socket;
//! - `hostile.rs`: malformed and oversized input over websocket and polling
//!   cuts off or refuses its sender and nobody else;
//! - `slow_consumers.rs`: a client that stops reading is disconnected, not
//!   buffered for.

mod fan_out;
mod hostile;
mod official_client;
mod slow_consumers;
mod watches;
