//! The node's relays: one subscription per product (and per customer) while
//! any of the node's sockets needs it, each relaying its events to its room,
//! the sockets that need it.
//!
//! A relay keeps its room itself, rather than in a Socket.IO room: an event
//! goes to a list it already holds, where a Socket.IO room is looked up by
//! name and each of its sockets by id, for every event.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use indexmap::IndexMap;
use reservation_core::{CustomerId, Error, HoldWatch, Sku, StockEvent, StockWatch};
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::fanout::Fanout;
use crate::app::App;

/// The sockets a relay emits to: a product's watchers on this node, or a
/// customer's sockets. Kept in a dense list for the emits, indexed by id so
/// that a socket leaves in constant time: a product watched by 100,000
/// sockets of a node loses them all when the node shuts down.
pub(super) type Room = Arc<RwLock<IndexMap<Sid, SocketRef>>>;

/// A relay task and its room; the relay stops with its last socket.
struct Relay {
    room: Room,
    task: JoinHandle<()>,
}

/// The relays of the node. The feed counts its own subscribers; a relay
/// counts sockets, so that a product watched by many sockets costs the feed
/// one subscription.
pub(super) struct Relays {
    app: App,
    fanout: Fanout,
    /// At most one `stock` emit per product per interval.
    interval: Duration,
    products: Mutex<HashMap<Sku, Relay>>,
    customers: Mutex<HashMap<CustomerId, Relay>>,
}

impl Relays {
    pub(super) fn new(app: App, fanout: Fanout, interval: Duration) -> Self {
        Self {
            app,
            fanout,
            interval,
            products: Mutex::new(HashMap::new()),
            customers: Mutex::new(HashMap::new()),
        }
    }

    /// Puts `socket` in the room of `sku`'s stock events, subscribing the
    /// node to them for the product's first socket. From its return on, the
    /// socket gets every event the relay emits.
    pub(super) async fn retain_product(&self, sku: &Sku, socket: &SocketRef) -> Result<(), Error> {
        if add_socket(&self.products, sku, socket) {
            return Ok(());
        }
        let watch = self.app.feed.watch(sku).await?;
        let room = Room::default();
        let task = tokio::spawn(relay_stock(
            self.fanout.clone(),
            room.clone(),
            watch,
            self.interval,
        ));
        insert_relay(&self.products, sku.clone(), Relay { room, task }, socket);
        Ok(())
    }

    pub(super) fn release_product(&self, sku: &Sku, socket: Sid) {
        release(&self.products, sku, socket);
    }

    /// Puts `socket` in the room of `customer`'s hold events, subscribing
    /// the node to them for the customer's first socket.
    pub(super) async fn retain_customer(
        &self,
        customer: &CustomerId,
        socket: &SocketRef,
    ) -> Result<(), Error> {
        if add_socket(&self.customers, customer, socket) {
            return Ok(());
        }
        let watch = self.app.feed.watch_customer(customer).await?;
        let room = Room::default();
        let task = tokio::spawn(relay_holds(self.fanout.clone(), room.clone(), watch));
        insert_relay(
            &self.customers,
            customer.clone(),
            Relay { room, task },
            socket,
        );
        Ok(())
    }

    pub(super) fn release_customer(&self, customer: &CustomerId, socket: Sid) {
        release(&self.customers, customer, socket);
    }
}

/// Adds a socket to an existing relay's room; false when there is none.
fn add_socket<K: Eq + std::hash::Hash>(
    relays: &Mutex<HashMap<K, Relay>>,
    key: &K,
    socket: &SocketRef,
) -> bool {
    match relays.lock().expect("relays lock").get(key) {
        Some(relay) => {
            join(&relay.room, socket);
            true
        }
        None => false,
    }
}

/// Installs a new relay with `socket` in its room, unless another socket's
/// watch installed one while this one was subscribing: then `socket` joins
/// that one and this task is stopped.
fn insert_relay<K: Eq + std::hash::Hash>(
    relays: &Mutex<HashMap<K, Relay>>,
    key: K,
    relay: Relay,
    socket: &SocketRef,
) {
    let mut relays = relays.lock().expect("relays lock");
    let relay = match relays.entry(key) {
        Entry::Occupied(existing) => {
            relay.task.abort();
            existing.into_mut()
        }
        Entry::Vacant(vacant) => vacant.insert(relay),
    };
    join(&relay.room, socket);
}

fn join(room: &Room, socket: &SocketRef) {
    room.write()
        .expect("room lock")
        .insert(socket.id, socket.clone());
}

/// Takes a socket out of a relay's room; the last one stops the relay (and
/// so the subscription).
fn release<K: Eq + std::hash::Hash>(relays: &Mutex<HashMap<K, Relay>>, key: &K, socket: Sid) {
    let mut relays = relays.lock().expect("relays lock");
    let Some(relay) = relays.get(key) else {
        return;
    };
    let mut room = relay.room.write().expect("room lock");
    room.swap_remove(&socket);
    if room.is_empty() {
        drop(room);
        if let Some(relay) = relays.remove(key) {
            relay.task.abort();
        }
    }
}

/// Relays one product's stock events to its room, conflated: an event that
/// arrives within `interval` of the last emit waits, and only the newest
/// waiting state is sent when the interval is over.
async fn relay_stock(fanout: Fanout, room: Room, mut watch: StockWatch, interval: Duration) {
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
async fn relay_holds(fanout: Fanout, room: Room, mut watch: HoldWatch) {
    while let Some(event) = watch.next().await {
        fanout.emit(&room, "hold", &event);
    }
}
