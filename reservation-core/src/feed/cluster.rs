//! The stock feed's connection task on Redis Cluster: product channels are
//! sharded (`SSUBSCRIBE`), so a subscription lives on the product's shard and
//! must be made again when a failover or a reshard moves the slot.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use redis::{Msg, PushInfo, PushKind};
use tokio::sync::mpsc;

use super::{
    Control, Engine, Error, Inner, RECONNECT_DELAY, Subject, dispatch, fail_waiting,
    send_fresh_snapshots, subject_of, watched_subjects,
};

/// The Cluster's connection task. It turns pushes into events, subscribes
/// again when a node is lost (failover) or a shard ends a subscription
/// (reshard), and turns a second confirmation of a product's subscription
/// into fresh snapshots.
pub(super) async fn run_cluster(
    client: redis::cluster::ClusterClient,
    engine: Engine,
    inner: Weak<Inner>,
    mut control: mpsc::UnboundedReceiver<Control>,
    mut pushes: mpsc::UnboundedReceiver<PushInfo>,
) {
    let mut conn = loop {
        match client.get_async_connection().await {
            Ok(conn) => break conn,
            Err(e) => {
                tracing::warn!(error = %e, "stock feed cannot reach the Redis Cluster; retrying");
                fail_waiting(&mut control, &e);
                if inner.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(RECONNECT_DELAY).await;
            }
        }
    };
    // How many times each channel's subscription was confirmed.
    let mut confirmed: HashMap<String, u32> = HashMap::new();
    loop {
        tokio::select! {
            push = pushes.recv() => {
                let (Some(push), Some(inner)) = (push, inner.upgrade()) else {
                    return;
                };
                match push.kind {
                    PushKind::Message | PushKind::SMessage => {
                        if let Some(message) = Msg::from_push_info(push) {
                            dispatch(&inner, message.get_channel_name(), message.get_payload_bytes());
                        }
                    }
                    PushKind::Subscribe | PushKind::SSubscribe => {
                        let Some(channel) = pushed_channel(&push) else {
                            continue;
                        };
                        let times = confirmed.entry(channel.clone()).or_default();
                        *times += 1;
                        if let (true, Some(subject)) = (*times > 1, subject_of(&inner, &channel)) {
                            tracing::info!(channel, "feed subscribed again");
                            let (engine, weak) = (engine.clone(), Arc::downgrade(&inner));
                            tokio::spawn(async move {
                                send_fresh_snapshots(&engine, &weak, &[subject]).await;
                            });
                        }
                    }
                    // A reshard moved the channel's slot: the old shard
                    // dropped the subscription, and the connection forgot it.
                    // Still watched, it is made again, on the slot's new shard.
                    PushKind::SUnsubscribe => {
                        let Some(channel) = pushed_channel(&push) else {
                            continue;
                        };
                        if let Some(subject) = subject_of(&inner, &channel) {
                            tracing::info!(channel, "shard dropped a watched channel; subscribing again");
                            tokio::spawn(subscribe_again(conn.clone(), subject, Arc::downgrade(&inner)));
                        }
                    }
                    // The connection learns that a failover moved a slot only
                    // when a command of that slot fails, and a subscriber sends
                    // none: subscribing again to every channel makes it look,
                    // and lands each subscription on the slot's new primary.
                    PushKind::Disconnection => {
                        tracing::warn!("stock feed lost a Cluster node; subscribing again");
                        for subject in watched_subjects(&inner) {
                            tokio::spawn(subscribe_again(conn.clone(), subject, Arc::downgrade(&inner)));
                        }
                    }
                    _ => {}
                }
            }
            command = control.recv() => match command {
                Some(Control::Subscribe(subject, ack)) => {
                    let result = subscribe_on_cluster(&mut conn, &subject).await;
                    let _ = ack.send(result.map_err(Error::from_redis));
                }
                Some(Control::Unsubscribe(subject)) => {
                    let channel = subject.channel();
                    confirmed.remove(&channel);
                    let result = match subject {
                        Subject::Stock(_) => conn.sunsubscribe(&channel).await,
                        Subject::Customer(_) => conn.unsubscribe(&channel).await,
                    };
                    if let Err(e) = result {
                        tracing::warn!(channel, error = %e, "could not unsubscribe");
                    }
                }
                None => return,
            },
        }
    }
}

/// Subscribes to a channel again until it works or nobody on the node
/// watches it any more. Its confirmation brings a product's watchers a fresh
/// snapshot (see [`run_cluster`]).
async fn subscribe_again(
    mut conn: redis::cluster_async::ClusterConnection,
    subject: Subject,
    inner: Weak<Inner>,
) {
    let channel = subject.channel();
    loop {
        match subscribe_on_cluster(&mut conn, &subject).await {
            Ok(()) => return,
            Err(e) => tracing::warn!(channel, error = %e, "cannot subscribe again; retrying"),
        }
        tokio::time::sleep(RECONNECT_DELAY).await;
        let Some(inner) = inner.upgrade() else { return };
        if subject_of(&inner, &channel).is_none() {
            return;
        }
    }
}

/// The channel a (un)subscribe confirmation is about.
fn pushed_channel(push: &PushInfo) -> Option<String> {
    push.data
        .first()
        .and_then(|channel| redis::from_redis_value_ref(channel).ok())
}

/// A product's channel is sharded, a customer's is not.
async fn subscribe_on_cluster(
    conn: &mut redis::cluster_async::ClusterConnection,
    subject: &Subject,
) -> redis::RedisResult<()> {
    let channel = subject.channel();
    match subject {
        Subject::Stock(_) => conn.ssubscribe(&channel).await,
        Subject::Customer(_) => conn.subscribe(&channel).await,
    }
}
