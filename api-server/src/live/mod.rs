//! Live stock for shoppers' browsers over Socket.IO (websocket, with HTTP
//! long-polling for clients that cannot upgrade), on the HTTP listener.
//!
//! - `watch {sku}` (with an ack) answers the product's snapshot, or
//!   `{"error": {"code", "message"}}`, and puts the socket in the product's
//!   room; `unwatch {sku}` takes it out. A socket watches at most
//!   `max_watched` products.
//! - The node relays a product's stock events only while one of its own
//!   sockets watches it: one subscription per product per node, made for the
//!   first watcher and dropped after the last. Relays conflate: at most one
//!   `stock` emit per product per interval, latest state wins, the last state
//!   is always sent, versions only grow.
//! - A socket that names a customer when it connects (the `customer_id` of its
//!   auth payload, or the same header or cookie the HTTP API reads) joins
//!   that customer's room and gets `hold` events for their reservations.
//!   No socket can join a room by name.
//! - Slow clients cannot hold memory: a socket's send buffer is bounded, and
//!   once it is full the socket is counted and disconnected instead of
//!   queueing without bound. (When even the disconnect packet finds no room,
//!   the Engine.IO heartbeat closes it: a client that does not read does not
//!   answer pings either.)
//! - When the node shuts down every session is closed at the Engine.IO level
//!   (its close packet, then the transport), which socket.io-client takes for
//!   a lost connection and reconnects after, through the load balancer to
//!   another node; a Socket.IO disconnect would tell it not to come back.
//!
//! `admission` holds the HTTP middleware in front of Socket.IO, `sockets`
//! a socket's state and events, `relays` the node's subscriptions to the
//! feed and their rooms, and `fanout` the emits to rooms and the slow
//! clients.

mod admission;
mod fanout;
mod relays;
mod sockets;

use std::sync::Arc;
use std::time::Duration;

use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::{ParserConfig, SocketIo};

pub(crate) use admission::{admit_session, detach_head};

use crate::app::App;
use crate::identity::SocketAuth;
use fanout::Fanout;
use sockets::Live;

/// How the live channel behaves.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Most products one socket may watch at once.
    pub max_watched: usize,
    /// At most one `stock` emit per product per interval.
    pub interval: Duration,
    /// Packets buffered per socket before it counts as too slow.
    pub max_buffer: usize,
    /// Largest packet a client may send, in bytes, over either transport:
    /// a polling payload, a websocket message or frame, or an event's
    /// binary attachments together.
    pub max_payload: u64,
    /// The websocket read buffer each connection holds, in bytes. Shoppers
    /// send only small packets (watches, pongs), so a small buffer costs
    /// nothing in reads and saves memory on every connection; a larger
    /// packet still arrives whole, over more reads.
    pub ws_read_buffer: usize,
    /// How often the server pings each client, and how long it waits for the
    /// answer before closing the connection.
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// Holds each watch between reading its snapshot and answering, for
    /// specs that land a change exactly there.
    #[cfg(feature = "testing")]
    pub after_snapshot: Option<crate::testing::WatchGate>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            max_watched: 32,
            interval: Duration::from_millis(50),
            max_buffer: 128,
            max_payload: 16 * 1024,
            ws_read_buffer: 512,
            ping_interval: Duration::from_secs(15),
            ping_timeout: Duration::from_secs(10),
            #[cfg(feature = "testing")]
            after_snapshot: None,
        }
    }
}

/// Most binary attachments one event may announce. Shoppers send none; a
/// client announcing thousands would have the node wait for and hold them.
const MAX_ATTACHMENTS: usize = 4;

/// The Socket.IO layer for the HTTP router, and the handle that closes every
/// session when the node shuts down ([`SocketIo::close`]).
pub fn layer(app: App, options: LiveOptions) -> (SocketIoLayer, SocketIo) {
    // Engine.IO's payload bound covers polling only; left to the websocket
    // library's defaults a single frame could make the node read and hold
    // 16 MiB, and a message 64 MiB. An event's attachments together weigh
    // no more than one packet may either.
    let max_payload = usize::try_from(options.max_payload).unwrap_or(usize::MAX);
    let parser = ParserConfig::common()
        .max_incoming_binaries(MAX_ATTACHMENTS)
        .max_incoming_binary_buf_size(max_payload);
    let (layer, io) = SocketIo::builder()
        .with_parser(parser)
        .max_buffer_size(options.max_buffer)
        .max_payload(options.max_payload)
        .ws_max_message_size(max_payload)
        .ws_max_frame_size(max_payload)
        .ws_read_buffer_size(options.ws_read_buffer)
        .ping_interval(options.ping_interval)
        .ping_timeout(options.ping_timeout)
        .build_layer();
    let fanout = Fanout::new(app.clone());
    let live = Arc::new(Live::new(app, options, fanout));
    // Socket.IO spawns connect handlers after it has told the client it is
    // connected, so a client's first event could beat a handler registered
    // there. Middlewares run before, so everything is set up in one.
    let set_up = move |socket: SocketRef, TryData(auth): TryData<SocketAuth>| {
        let live = live.clone();
        async move { live.connecting(socket, auth.ok()).await }
    };
    io.ns("/", (async || {}).with(set_up));
    (layer, io)
}
