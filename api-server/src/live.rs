//! Live stock for shoppers' browsers over Socket.IO (websocket, with HTTP
//! long-polling for clients that cannot upgrade), on the HTTP listener.
//!
//! - `watch {sku}` (with an ack) answers the product's snapshot, or
//!   `{"error": {"code", "message"}}`, and puts the socket in room
//!   `product:SKU`; `unwatch {sku}` takes it out. A socket watches at most
//!   `max_watched` products.
//! - The node relays a product's stock events only while one of its own
//!   sockets watches it: one subscription per product per node, made for the
//!   first watcher and dropped after the last. Relays conflate: at most one
//!   `stock` emit per product per interval, latest state wins, the last state
//!   is always sent, versions only grow.
//! - A socket that names a customer when it connects (the `customer_id` of its
//!   auth payload, or the same header or cookie the HTTP API reads) joins
//!   `customer:ID` and gets `hold` events for that customer's reservations.
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

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::OriginalUri;
use axum::http::{HeaderValue, Uri};
use reservation_core::{CustomerId, Error, HoldWatch, Sku, StockEvent, StockWatch};
use serde::{Deserialize, Serialize};
use serde_json::json;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::Sid;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::app::App;
use crate::http::{ApiError, peer_address};
use crate::identity::SocketAuth;
use crate::limits::SocketPermit;

/// How the live channel behaves.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Most products one socket may watch at once.
    pub max_watched: usize,
    /// At most one `stock` emit per product per interval.
    pub interval: Duration,
    /// Packets buffered per socket before it counts as too slow.
    pub max_buffer: usize,
    /// Largest packet a client may send, in bytes.
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

/// A request to the Socket.IO path without a session id opens a session.
/// New sessions are admitted at the node's rate: a reconnect storm is
/// answered 429 with `Retry-After`, and socket.io-client's backoff spreads
/// the retries out, instead of every client landing at once.
pub(crate) async fn admit_session(
    axum::extract::State(app): axum::extract::State<App>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let uri = request.uri();
    // Both the polling handshake and the websocket upgrade are GETs; a
    // CORS preflight opens nothing. Socket.IO takes a sid it cannot parse
    // for none and opens a session, so only a well-formed sid marks a
    // request of an open session.
    let opens = request.method() == axum::http::Method::GET
        && uri.path().starts_with(SOCKET_IO_PATH)
        && !uri.query().is_some_and(|query| {
            query.split('&').any(|pair| {
                pair.strip_prefix("sid=")
                    .is_some_and(|sid| sid.parse::<Sid>().is_ok())
            })
        });
    if opens && let Err(limited) = app.limits.open_session() {
        return axum::response::IntoResponse::into_response(ApiError::from(limited));
    }
    next.run(request).await
}

/// Socket.IO connects a socket right after its connect middleware, with no
/// wait in between; one not connected this long after never will be.
const CONNECT_GRACE: Duration = Duration::from_secs(1);

/// Where Socket.IO answers (its default path).
const SOCKET_IO_PATH: &str = "/socket.io/";

/// Socket.IO keeps the request that opened a session for the session's
/// life. Hyper parses header values and the URI (and axum's `OriginalUri`) as
/// slices of the connection's read buffer, so a kept request would pin that
/// whole 16 KiB buffer per socket; a copy of the head lets it go. Other
/// requests pass untouched.
pub(crate) fn detach_head(request: axum::extract::Request) -> axum::extract::Request {
    if !request.uri().path().starts_with(SOCKET_IO_PATH) {
        return request;
    }
    let (mut parts, body) = request.into_parts();
    parts.headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            let copy = HeaderValue::from_bytes(value.as_bytes()).map(|mut copy| {
                copy.set_sensitive(value.is_sensitive());
                copy
            });
            (name.clone(), copy.unwrap_or_else(|_| value.clone()))
        })
        .collect();
    let copy = |uri: &Uri| uri.to_string().parse().unwrap_or_else(|_| uri.clone());
    parts.uri = copy(&parts.uri);
    if let Some(OriginalUri(original)) = parts.extensions.get_mut() {
        *original = copy(original);
    }
    axum::extract::Request::from_parts(parts, body)
}

/// The Socket.IO layer for the HTTP router, and the handle that closes every
/// session when the node shuts down ([`SocketIo::close`]).
pub fn layer(app: App, options: LiveOptions) -> (SocketIoLayer, SocketIo) {
    let (layer, io) = SocketIo::builder()
        .max_buffer_size(options.max_buffer)
        .max_payload(options.max_payload)
        .ws_read_buffer_size(options.ws_read_buffer)
        .ping_interval(options.ping_interval)
        .ping_timeout(options.ping_timeout)
        .build_layer();
    let live = Arc::new(Live {
        fanout: Fanout {
            io: io.clone(),
            app: app.clone(),
            stalled: Arc::default(),
        },
        app,
        options,
        products: Mutex::new(HashMap::new()),
        customers: Mutex::new(HashMap::new()),
        sockets: Mutex::new(HashMap::new()),
    });
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

/// Why a connection is refused; the client gets it as `connect_error`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

#[derive(Deserialize)]
struct WatchRequest {
    sku: String,
}

#[derive(Serialize)]
struct ErrorAck {
    error: ErrorBody,
}

#[derive(Serialize)]
struct ErrorBody {
    code: &'static str,
    message: String,
}

fn closing() -> ErrorAck {
    error_ack("UNAVAILABLE", "the socket is closing")
}

fn error_ack(code: &'static str, message: impl Into<String>) -> ErrorAck {
    ErrorAck {
        error: ErrorBody {
            code,
            message: message.into(),
        },
    }
}

fn product_room(sku: &Sku) -> String {
    format!("product:{sku}")
}

fn customer_room(customer: &CustomerId) -> String {
    format!("customer:{customer}")
}

/// A relay task and how many of the node's sockets need it.
struct Relay {
    sockets: usize,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct SocketState {
    watched: HashSet<Sku>,
    /// Socket.IO runs each event on a task of its own; a socket's watches
    /// and unwatches take this in turn, so that a flood of them cannot
    /// interleave a watch's subscribe with an unwatch of the same product.
    turn: Arc<tokio::sync::Mutex<()>>,
    customer: Option<CustomerId>,
    /// Counts the socket against the node's and its address's caps until
    /// the state is dropped at disconnect.
    _permit: Option<SocketPermit>,
}

struct Live {
    app: App,
    fanout: Fanout,
    options: LiveOptions,
    products: Mutex<HashMap<Sku, Relay>>,
    customers: Mutex<HashMap<CustomerId, Relay>>,
    sockets: Mutex<HashMap<Sid, SocketState>>,
}

impl Live {
    async fn connecting(
        self: Arc<Self>,
        socket: SocketRef,
        auth: Option<SocketAuth>,
    ) -> Result<(), Refused> {
        let address = peer_address(&socket.req_parts().extensions);
        let permit = self
            .app
            .limits
            .hold_socket(address)
            .map_err(|limited| Refused(limited.to_string()))?;
        let named =
            self.app
                .identity
                .identify(&socket.req_parts().headers, auth, self.app.engine.now_ms());
        let customer = named.transpose().map_err(|e| Refused(e.to_string()))?;
        if let Some(customer) = &customer {
            self.retain_customer(customer)
                .await
                .map_err(|e| Refused(format!("hold events are unavailable: {e}")))?;
            socket.join(customer_room(customer));
        }
        self.app.metrics.sockets.inc();
        self.sockets.lock().expect("sockets lock").insert(
            socket.id,
            SocketState {
                customer: customer.clone(),
                _permit: Some(permit),
                ..SocketState::default()
            },
        );
        let live = self.clone();
        socket.on(
            "watch",
            move |socket: SocketRef, TryData(request): TryData<WatchRequest>, ack: AckSender| {
                let live = live.clone();
                async move {
                    let answer = match live.turn_of(&socket) {
                        Some(turn) => {
                            let _turn = turn.lock().await;
                            live.watch(&socket, request.map(|r| r.sku)).await
                        }
                        None => Err(closing()),
                    };
                    let _ = match answer {
                        Ok(snapshot) => ack.send(&snapshot),
                        Err(error) => ack.send(&error),
                    };
                }
            },
        );
        let live = self.clone();
        socket.on(
            "unwatch",
            move |socket: SocketRef, TryData(request): TryData<WatchRequest>, ack: AckSender| {
                let live = live.clone();
                async move {
                    let answer = match request.map(|r| Sku::new(r.sku)) {
                        Ok(Ok(sku)) => {
                            if let Some(turn) = live.turn_of(&socket) {
                                let _turn = turn.lock().await;
                                live.unwatch(&socket, &sku);
                            }
                            json!({ "ok": true })
                        }
                        _ => json!(error_ack(
                            "INVALID_ARGUMENT",
                            "unwatch takes {\"sku\": \"SKU\"}"
                        )),
                    };
                    let _ = ack.send(&answer);
                }
            },
        );
        let live = self.clone();
        socket.on_disconnect(move |socket: SocketRef| {
            let live = live.clone();
            async move { live.disconnected(&socket) }
        });
        // A session that ends before Socket.IO has connected its socket (a
        // malformed packet right behind the connect) gets no disconnect
        // event, and would keep its state and its place under the caps.
        tokio::spawn(async move {
            tokio::time::sleep(CONNECT_GRACE).await;
            if !socket.connected() {
                self.disconnected(&socket);
            }
        });
        Ok(())
    }

    async fn watch(
        &self,
        socket: &SocketRef,
        request: Result<String, impl std::fmt::Display>,
    ) -> Result<StockEvent, ErrorAck> {
        let raw =
            request.map_err(|_| error_ack("INVALID_ARGUMENT", "watch takes {\"sku\": \"SKU\"}"))?;
        let sku = Sku::new(raw).map_err(|e| error_ack(e.reason(), e.to_string()))?;
        let added = !self.check_watch(socket, &sku)?;
        if added {
            // The relay is counted before the socket's state names the
            // product, so that a disconnect meanwhile releases only what was
            // counted. The socket's own watches and unwatches wait for their
            // turn, so its disconnect is all that can have come meanwhile.
            self.retain_product(&sku)
                .await
                .map_err(|e| error_ack(e.reason(), e.to_string()))?;
            if !self.claim(socket, &sku) {
                self.release_product(&sku);
                return Err(closing());
            }
        }
        // Join first, then read: a change landing in between reaches the
        // socket as an event and shows in the snapshot, and the client keeps
        // the higher version. Read first, a change landing before the join
        // would reach the room without this socket, and when it was the
        // product's last change the shopper would keep a stale count.
        let room = product_room(&sku);
        socket.join(room.clone());
        match self.app.call("watch", self.app.engine.product(&sku)).await {
            Ok(product) => {
                #[cfg(feature = "testing")]
                if let Some(gate) = &self.options.after_snapshot {
                    gate.pass(&sku).await;
                }
                Ok(product.stock)
            }
            Err(e) => {
                if added && self.forget(socket, &sku) {
                    socket.leave(room);
                    self.release_product(&sku);
                }
                Err(error_ack(e.reason(), e.to_string()))
            }
        }
    }

    /// Whether the socket already watches `sku`; refused when the socket is
    /// gone or a new product would pass its watch limit.
    fn check_watch(&self, socket: &SocketRef, sku: &Sku) -> Result<bool, ErrorAck> {
        let sockets = self.sockets.lock().expect("sockets lock");
        let state = sockets.get(&socket.id).ok_or_else(closing)?;
        if state.watched.contains(sku) {
            return Ok(true);
        }
        if state.watched.len() >= self.options.max_watched {
            return Err(error_ack(
                "WATCH_LIMIT",
                format!(
                    "a socket may watch at most {} products",
                    self.options.max_watched
                ),
            ));
        }
        Ok(false)
    }

    /// Records that the socket watches `sku`; false when it is gone.
    fn claim(&self, socket: &SocketRef, sku: &Sku) -> bool {
        self.sockets
            .lock()
            .expect("sockets lock")
            .get_mut(&socket.id)
            .is_some_and(|state| state.watched.insert(sku.clone()))
    }

    fn turn_of(&self, socket: &SocketRef) -> Option<Arc<tokio::sync::Mutex<()>>> {
        self.sockets
            .lock()
            .expect("sockets lock")
            .get(&socket.id)
            .map(|state| state.turn.clone())
    }

    fn unwatch(&self, socket: &SocketRef, sku: &Sku) {
        socket.leave(product_room(sku));
        if self.forget(socket, sku) {
            self.release_product(sku);
        }
    }

    /// Removes `sku` from the socket's watch list; true when it was there.
    fn forget(&self, socket: &SocketRef, sku: &Sku) -> bool {
        self.sockets
            .lock()
            .expect("sockets lock")
            .get_mut(&socket.id)
            .is_some_and(|state| state.watched.remove(sku))
    }

    fn disconnected(&self, socket: &SocketRef) {
        let Some(state) = self
            .sockets
            .lock()
            .expect("sockets lock")
            .remove(&socket.id)
        else {
            return;
        };
        self.app.metrics.sockets.dec();
        self.fanout
            .stalled
            .lock()
            .expect("stalled lock")
            .remove(&socket.id);
        for sku in &state.watched {
            self.release_product(sku);
        }
        if let Some(customer) = &state.customer {
            release(&self.customers, customer);
        }
    }

    /// Makes sure the node relays `sku`'s stock events to its room.
    async fn retain_product(&self, sku: &Sku) -> Result<(), Error> {
        if add_socket(&self.products, sku) {
            return Ok(());
        }
        let watch = self.app.feed.watch(sku).await?;
        let task = tokio::spawn(relay_stock(
            self.fanout.clone(),
            watch,
            self.options.interval,
        ));
        insert_relay(&self.products, sku.clone(), task);
        Ok(())
    }

    fn release_product(&self, sku: &Sku) {
        release(&self.products, sku);
    }

    async fn retain_customer(&self, customer: &CustomerId) -> Result<(), Error> {
        if add_socket(&self.customers, customer) {
            return Ok(());
        }
        let watch = self.app.feed.watch_customer(customer).await?;
        let task = tokio::spawn(relay_holds(
            self.fanout.clone(),
            customer_room(customer),
            watch,
        ));
        insert_relay(&self.customers, customer.clone(), task);
        Ok(())
    }
}

/// Counts one more socket on an existing relay; false when there is none.
fn add_socket<K: Eq + std::hash::Hash>(relays: &Mutex<HashMap<K, Relay>>, key: &K) -> bool {
    match relays.lock().expect("relays lock").get_mut(key) {
        Some(relay) => {
            relay.sockets += 1;
            true
        }
        None => false,
    }
}

/// Installs a new relay, unless another socket's watch installed one while
/// this one was subscribing: then that one is kept and this task stopped.
fn insert_relay<K: Eq + std::hash::Hash>(
    relays: &Mutex<HashMap<K, Relay>>,
    key: K,
    task: JoinHandle<()>,
) {
    let mut relays = relays.lock().expect("relays lock");
    match relays.get_mut(&key) {
        Some(existing) => {
            existing.sockets += 1;
            task.abort();
        }
        None => {
            relays.insert(key, Relay { sockets: 1, task });
        }
    }
}

/// One socket fewer; the last one stops the relay (and so the subscription).
fn release<K: Eq + std::hash::Hash>(relays: &Mutex<HashMap<K, Relay>>, key: &K) {
    let mut relays = relays.lock().expect("relays lock");
    if let Some(relay) = relays.get_mut(key) {
        relay.sockets -= 1;
        if relay.sockets == 0 {
            relay.task.abort();
            relays.remove(key);
        }
    }
}

/// Relays one product's stock events to its room, conflated: an event that
/// arrives within `interval` of the last emit waits, and only the newest
/// waiting state is sent when the interval is over.
async fn relay_stock(fanout: Fanout, mut watch: StockWatch, interval: Duration) {
    let room = product_room(watch.sku());
    let mut newest = 0;
    let mut waiting: Option<StockEvent> = None;
    let mut next_emit = Instant::now();
    loop {
        tokio::select! {
            event = watch.next() => match event {
                Some(event) if event.version > newest => {
                    newest = event.version;
                    waiting = Some(event);
                }
                Some(_) => {}
                None => return,
            },
            _ = tokio::time::sleep_until(next_emit), if waiting.is_some() => {
                if let Some(event) = waiting.take() {
                    fanout.emit(&room, "stock", &event);
                }
                next_emit = Instant::now() + interval;
            }
        }
    }
}

/// Relays one customer's hold events to their room, each one.
async fn relay_holds(fanout: Fanout, room: String, mut watch: HoldWatch) {
    while let Some(event) = watch.next().await {
        fanout.emit(&room, "hold", &event);
    }
}

/// Sends to the node's sockets, and deals with the ones that cannot keep up.
#[derive(Clone)]
struct Fanout {
    io: SocketIo,
    app: App,
    /// Sockets found with a full send buffer, until they are gone.
    stalled: Arc<Mutex<HashSet<Sid>>>,
}

impl Fanout {
    /// Emits to every socket of a room on this node; a socket whose send
    /// buffer is full is counted once and disconnected.
    fn emit<T: Serialize>(&self, room: &str, event: &str, data: &T) {
        for socket in self.io.to(room.to_owned()).sockets() {
            if let Err(socketioxide::SendError::Socket(
                socketioxide::SocketError::InternalChannelFull,
            )) = socket.emit(event, data)
            {
                if self.stalled.lock().expect("stalled lock").insert(socket.id) {
                    tracing::info!(sid = %socket.id, "disconnecting a socket that cannot keep up");
                    self.app.metrics.slow_disconnects.inc();
                }
                let _ = socket.disconnect();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, Bytes};
    use axum::extract::OriginalUri;
    use axum::http::{HeaderValue, Request, Uri};

    use super::detach_head;

    #[test]
    fn a_socket_io_request_keeps_no_slice_of_the_buffer_it_was_parsed_from() {
        // As hyper parses a request: every part a slice of one read buffer.
        let buffer = Bytes::from_static(b"/socket.io/?EIO=4&transport=websocketcustomer-7");
        let uri = Uri::from_maybe_shared(buffer.slice(..37)).unwrap();
        let customer = HeaderValue::from_maybe_shared(buffer.slice(37..)).unwrap();
        let mut request = Request::builder()
            .uri(uri.clone())
            .header("x-customer-id", customer)
            .body(Body::empty())
            .unwrap();
        request.extensions_mut().insert(OriginalUri(uri));
        let in_buffer = |part: &[u8]| buffer.as_ptr_range().contains(&part.as_ptr());
        assert!(
            in_buffer(request.uri().path().as_bytes()),
            "the test's premise"
        );

        let detached = detach_head(request);
        let original = &detached.extensions().get::<OriginalUri>().unwrap().0;
        for part in [
            detached.uri().path().as_bytes(),
            original.path().as_bytes(),
            detached.headers()["x-customer-id"].as_bytes(),
        ] {
            assert!(!in_buffer(part), "{:?} still points into the buffer", part);
        }
        assert_eq!(detached.uri(), "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(original, "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(detached.headers()["x-customer-id"], "customer-7");
    }
}
