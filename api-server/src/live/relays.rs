//! The node's relays: one subscription per product (and per customer) while
//! any of the node's sockets needs it, each relaying its events to a room.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reservation_core::{CustomerId, Error, HoldWatch, Sku, StockEvent, StockWatch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::fanout::Fanout;
use crate::app::App;

/// The room of a product's watchers.
pub(super) fn product_room(sku: &Sku) -> String {
    format!("product:{sku}")
}

/// The room of a customer's sockets.
pub(super) fn customer_room(customer: &CustomerId) -> String {
    format!("customer:{customer}")
}

/// A relay task and how many of the node's sockets need it.
struct Relay {
    sockets: usize,
    task: JoinHandle<()>,
}

/// The relays of the node, each counted by the sockets that need it. The
/// feed counts its own subscribers; this count is of sockets, so that a
/// product watched by many sockets costs the feed one subscription.
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

    /// Makes sure the node relays `sku`'s stock events to its room.
    pub(super) async fn retain_product(&self, sku: &Sku) -> Result<(), Error> {
        if add_socket(&self.products, sku) {
            return Ok(());
        }
        let watch = self.app.feed.watch(sku).await?;
        let task = tokio::spawn(relay_stock(self.fanout.clone(), watch, self.interval));
        insert_relay(&self.products, sku.clone(), task);
        Ok(())
    }

    pub(super) fn release_product(&self, sku: &Sku) {
        release(&self.products, sku);
    }

    /// Makes sure the node relays `customer`'s hold events to their room.
    pub(super) async fn retain_customer(&self, customer: &CustomerId) -> Result<(), Error> {
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

    pub(super) fn release_customer(&self, customer: &CustomerId) {
        release(&self.customers, customer);
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
