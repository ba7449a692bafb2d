//! Listening to what the scripts publish: a product's stock events, a
//! customer's hold events, or any raw channel, sharded or not on a Cluster.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::keys::{self, ProductKeys};
use crate::types::Sku;

use super::{TestEngine, TestRedis, customer_of};

impl TestEngine {
    /// Subscribes to a raw channel (`sharded`: with `SSUBSCRIBE` on a
    /// Cluster); each message's payload arrives on the receiver.
    pub async fn listen(&self, channel: String, sharded: bool) -> mpsc::UnboundedReceiver<Vec<u8>> {
        let (tx, rx) = mpsc::unbounded_channel();
        match &self.redis {
            TestRedis::Single(redis) => {
                let client = redis::Client::open(redis.url()).expect("redis url");
                let mut pubsub = client.get_async_pubsub().await.expect("pubsub connection");
                pubsub.subscribe(&channel).await.expect("subscribe");
                tokio::spawn(async move {
                    let mut messages = pubsub.into_on_message();
                    while let Some(message) = messages.next().await {
                        if tx.send(message.get_payload_bytes().to_vec()).is_err() {
                            break;
                        }
                    }
                });
            }
            TestRedis::Cluster(_) => {
                let (pushes, mut pushes_rx) = mpsc::unbounded_channel();
                let client = self
                    .redis
                    .config()
                    .cluster_subscriber(pushes)
                    .expect("cluster seeds");
                let mut conn = client
                    .get_async_connection()
                    .await
                    .expect("cluster connection");
                if sharded {
                    conn.ssubscribe(&channel).await.expect("ssubscribe");
                } else {
                    conn.subscribe(&channel).await.expect("subscribe");
                }
                tokio::spawn(async move {
                    let _subscribed = conn;
                    while let Some(push) = pushes_rx.recv().await {
                        let Some(message) = redis::Msg::from_push_info(push) else {
                            continue;
                        };
                        if tx.send(message.get_payload_bytes().to_vec()).is_err() {
                            break;
                        }
                    }
                });
            }
        }
        rx
    }

    /// Subscribes to a product's stock events.
    pub async fn listen_stock(&self, sku: &Sku) -> mpsc::UnboundedReceiver<Vec<u8>> {
        self.listen(ProductKeys::new(sku).stock_channel, true).await
    }

    /// Subscribes to a customer's hold events.
    pub async fn listen_holds(&self, customer: &str) -> mpsc::UnboundedReceiver<Vec<u8>> {
        self.listen(keys::customer_channel(&customer_of(customer)), false)
            .await
    }
}

/// Everything received so far on a listener, without waiting for more.
pub async fn drain(rx: &mut mpsc::UnboundedReceiver<Vec<u8>>) -> Vec<Vec<u8>> {
    // Publishes happen inside the script, before it answers, but delivery to
    // the subscriber's socket is asynchronous: give it a moment.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut out = Vec::new();
    while let Ok(message) = rx.try_recv() {
        out.push(message);
    }
    out
}
