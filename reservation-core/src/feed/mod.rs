//! Live events from Redis pub/sub, for the servers that push them on: a
//! product's stock events, and a customer's hold events.
//!
//! A node subscribes to a channel only while something on the node watches
//! it, and drops the subscription when the last watcher goes: a node never
//! hears of products (or customers) nobody on it watches. All subscriptions
//! share one pub/sub connection. When that connection drops, the feed
//! reconnects, subscribes again and sends every stock watcher a fresh
//! snapshot, so no watcher is left on a stale count.
//!
//! Stock is state, not a log: a slow watcher that falls behind skips to the
//! newest event rather than holding memory for every change.
//!
//! On Redis Cluster a product's channel is sharded (`SSUBSCRIBE`): it lives on
//! the product's shard, so each shard carries only its own products' events.
//! The redis crate's cluster connection subscribes on the right shard. When a
//! node is lost (a failover) or a reshard moves a slot (the old shard ends the
//! subscription with `sunsubscribe`), the feed subscribes again, which lands
//! on the slot's new primary. Each time, the product's watchers get a fresh
//! snapshot, as after a reconnect.
//! Customer channels stay plain pub/sub, which every node of a Cluster hears.
//!
//! This file keeps the watchers and what both connection tasks share; the
//! tasks themselves are `single.rs` (one node) and `cluster.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{OnceCell, broadcast, mpsc, oneshot};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::keys::{self, ProductKeys};
use crate::redis_config::RedisConfig;
use crate::types::{CustomerId, HoldEvent, Sku, StockEvent};

mod cluster;
mod single;

use cluster::run_cluster;
use single::{Timeouts, run_single};

/// Events buffered per product before a slow watcher skips ahead.
const BUFFER: usize = 64;
const RECONNECT_DELAY: Duration = Duration::from_millis(200);

/// The node's subscriptions to stock events. Cheap to clone.
#[derive(Clone)]
pub struct StockFeed {
    inner: Arc<Inner>,
}

struct Inner {
    /// Keyed by channel name.
    topics: Mutex<HashMap<String, Topic>>,
    control: mpsc::UnboundedSender<Control>,
}

/// What a channel carries.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Subject {
    Stock(Sku),
    Customer(CustomerId),
}

impl Subject {
    fn channel(&self) -> String {
        match self {
            Self::Stock(sku) => ProductKeys::new(sku).stock_channel,
            Self::Customer(customer) => keys::customer_channel(customer),
        }
    }
}

#[derive(Clone, Debug)]
enum Event {
    Stock(StockEvent),
    Hold(HoldEvent),
}

struct Topic {
    subject: Subject,
    events: broadcast::Sender<Event>,
    watchers: usize,
    /// Set once Redis has confirmed the subscription. Every watcher waits
    /// for it, not only the first: a later watcher that returned sooner
    /// could read a snapshot older than an event the node never heard.
    subscribed: Arc<OnceCell<()>>,
}

enum Control {
    Subscribe(Subject, oneshot::Sender<Result<()>>),
    Unsubscribe(Subject),
}

/// One watcher's view of one channel. Dropping it ends the watch.
struct Watch {
    channel: String,
    events: broadcast::Receiver<Event>,
    feed: Weak<Inner>,
}

/// One watcher's view of one product's stock. Dropping it ends the watch.
pub struct StockWatch {
    sku: Sku,
    watch: Watch,
}

/// One watcher's view of one customer's holds. Dropping it ends the watch.
pub struct HoldWatch {
    watch: Watch,
}

impl StockFeed {
    /// Starts the feed's connection task. `engine` reads fresh snapshots after
    /// a reconnect; it must point at the same Redis as `redis`.
    pub fn start(redis: &RedisConfig, engine: Engine) -> Result<Self> {
        let (control, control_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            topics: Mutex::new(HashMap::new()),
            control,
        });
        let weak = Arc::downgrade(&inner);
        if redis.cluster {
            let (pushes, pushes_rx) = mpsc::unbounded_channel();
            let client = redis.cluster_subscriber(pushes)?;
            tokio::spawn(run_cluster(client, engine, weak, control_rx, pushes_rx));
        } else {
            let timeouts = Timeouts {
                connect: redis.connect_timeout + redis.response_timeout,
                answer: redis.response_timeout,
            };
            tokio::spawn(run_single(
                redis.client()?,
                timeouts,
                engine,
                weak,
                control_rx,
            ));
        }
        Ok(Self { inner })
    }

    /// Starts watching `sku`. Returns once the subscription is live, for the
    /// node's first watcher of `sku` and for every later one, so a snapshot
    /// read after this call is at least as new as any event missed.
    pub async fn watch(&self, sku: &Sku) -> Result<StockWatch> {
        Ok(StockWatch {
            sku: sku.clone(),
            watch: self.subscribe(Subject::Stock(sku.clone())).await?,
        })
    }

    /// Starts watching a customer's hold events.
    pub async fn watch_customer(&self, customer: &CustomerId) -> Result<HoldWatch> {
        Ok(HoldWatch {
            watch: self.subscribe(Subject::Customer(customer.clone())).await?,
        })
    }

    async fn subscribe(&self, subject: Subject) -> Result<Watch> {
        let channel = subject.channel();
        let (events, subscribed) = {
            let mut topics = self.inner.topics.lock().expect("feed lock");
            let topic = topics.entry(channel.clone()).or_insert_with(|| Topic {
                subject: subject.clone(),
                events: broadcast::channel(BUFFER).0,
                watchers: 0,
                subscribed: Arc::default(),
            });
            topic.watchers += 1;
            (topic.events.subscribe(), topic.subscribed.clone())
        };
        // Dropped on an error, this counts the watcher out again.
        let watch = Watch {
            channel,
            events,
            feed: Arc::downgrade(&self.inner),
        };
        // The first watcher subscribes and the others wait on its answer. A
        // subscription that failed (or whose watcher went away meanwhile) is
        // tried again by the next watcher in line.
        subscribed
            .get_or_try_init(|| async {
                let (ack, acked) = oneshot::channel();
                self.inner
                    .control
                    .send(Control::Subscribe(subject, ack))
                    .map_err(|_| feed_stopped())?;
                acked.await.map_err(|_| feed_stopped())?
            })
            .await?;
        Ok(watch)
    }

    /// How many products this node is subscribed to.
    pub fn subscribed_skus(&self) -> usize {
        self.inner
            .topics
            .lock()
            .expect("feed lock")
            .values()
            .filter(|t| matches!(t.subject, Subject::Stock(_)))
            .count()
    }

    /// How many customers this node is subscribed to.
    pub fn subscribed_customers(&self) -> usize {
        let topics = self.inner.topics.lock().expect("feed lock");
        topics.len()
            - topics
                .values()
                .filter(|t| matches!(t.subject, Subject::Stock(_)))
                .count()
    }
}

fn feed_stopped() -> Error {
    Error::Unavailable("the stock feed's connection task has stopped".into())
}

impl Watch {
    /// The next event; `None` when the feed is gone. A watcher that fell
    /// behind gets the newest events and skips the ones it missed.
    async fn next(&mut self) -> Option<Event> {
        loop {
            match self.events.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let Some(inner) = self.feed.upgrade() else {
            return;
        };
        let mut topics = inner.topics.lock().expect("feed lock");
        if let Some(topic) = topics.get_mut(&self.channel) {
            topic.watchers -= 1;
            if topic.watchers == 0
                && let Some(topic) = topics.remove(&self.channel)
            {
                let _ = inner.control.send(Control::Unsubscribe(topic.subject));
            }
        }
    }
}

impl StockWatch {
    pub fn sku(&self) -> &Sku {
        &self.sku
    }

    /// The next stock event; `None` when the feed is gone.
    pub async fn next(&mut self) -> Option<StockEvent> {
        loop {
            if let Event::Stock(event) = self.watch.next().await? {
                return Some(event);
            }
        }
    }
}

impl HoldWatch {
    /// The next hold event; `None` when the feed is gone.
    pub async fn next(&mut self) -> Option<HoldEvent> {
        loop {
            if let Event::Hold(event) = self.watch.next().await? {
                return Some(event);
            }
        }
    }
}

/// Watchers waiting for a subscription must not wait forever.
fn fail_waiting(control: &mut mpsc::UnboundedReceiver<Control>, cause: &redis::RedisError) {
    while let Ok(message) = control.try_recv() {
        if let Control::Subscribe(_, ack) = message {
            let _ = ack.send(Err(Error::from_redis(cause.clone())));
        }
    }
}

/// What a watched channel carries.
fn subject_of(inner: &Inner, channel: &str) -> Option<Subject> {
    let topics = inner.topics.lock().expect("feed lock");
    topics.get(channel).map(|topic| topic.subject.clone())
}

fn watched_subjects(inner: &Inner) -> Vec<Subject> {
    let topics = inner.topics.lock().expect("feed lock");
    topics.values().map(|t| t.subject.clone()).collect()
}

/// Decodes a message by what its channel carries and hands it to the
/// channel's watchers.
fn dispatch(inner: &Inner, channel: &str, payload: &[u8]) {
    let topics = inner.topics.lock().expect("feed lock");
    // No topic: the last watcher left while the message was on its way.
    let Some(topic) = topics.get(channel) else {
        return;
    };
    let event = match &topic.subject {
        Subject::Stock(_) => StockEvent::from_json(payload).map(Event::Stock),
        Subject::Customer(_) => HoldEvent::from_json(payload).map(Event::Hold),
    };
    match event {
        // No receiver left is fine: the last watcher is on its way out.
        Ok(event) => drop(topic.events.send(event)),
        Err(e) => tracing::warn!(channel, error = %e, "undecodable event"),
    }
}

/// Events published while the connection was down are lost; the current
/// snapshot of each product brings every watcher back in step. The engine's
/// own connection may still be reconnecting, so each read is retried a while.
async fn send_fresh_snapshots(engine: &Engine, inner: &Weak<Inner>, subjects: &[Subject]) {
    const ATTEMPTS: u32 = 20;
    for subject in subjects {
        let Subject::Stock(sku) = subject else {
            continue;
        };
        for attempt in 1..=ATTEMPTS {
            match engine.product(sku).await {
                Ok(product) => {
                    if let Some(inner) = inner.upgrade() {
                        let topics = inner.topics.lock().expect("feed lock");
                        if let Some(topic) = topics.get(&subject.channel()) {
                            let _ = topic.events.send(Event::Stock(product.stock));
                        }
                    }
                    break;
                }
                Err(e) if attempt == ATTEMPTS => {
                    tracing::warn!(%sku, error = %e, "no fresh snapshot after reconnect");
                }
                Err(_) => tokio::time::sleep(RECONNECT_DELAY).await,
            }
        }
    }
}
