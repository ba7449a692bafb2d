//! `WatchStock`: snapshots first, then changes, the node subscribed only to
//! what is watched and only while it is; unknown and malformed SKUs refused.

use std::time::Duration;

use api_server::testing::TestServer;
use flashsale_proto::v1 as pb;
use tonic::Code;

use super::{create, reserve};
use crate::bad_fields;

#[tokio::test]
async fn watch_stock_sends_snapshots_then_changes_and_stops_with_the_client() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    let mut reservations = s.reservations().await;
    inventory.create_product(create("TEE", 5)).await.unwrap();
    inventory.create_product(create("CAP", 5)).await.unwrap();
    inventory.create_product(create("SHOE", 5)).await.unwrap();

    let mut stream = inventory
        .watch_stock(pb::WatchStockRequest {
            skus: vec!["TEE".into(), "CAP".into()],
        })
        .await
        .unwrap()
        .into_inner();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(5), stream.message())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap()
    };
    let mut snapshots = [next().await, next().await];
    snapshots.sort_by(|a, b| a.sku.cmp(&b.sku));
    assert_eq!(
        snapshots
            .iter()
            .map(|e| (e.sku.as_str(), e.available, e.version))
            .collect::<Vec<_>>(),
        [("CAP", 5, 1), ("TEE", 5, 1)]
    );

    reservations
        .reserve(reserve("SHOE", "ann", 1, "r0"))
        .await
        .unwrap();
    reservations
        .reserve(reserve("TEE", "ann", 2, "r1"))
        .await
        .unwrap();
    let change = next().await;
    assert_eq!(
        (change.sku.as_str(), change.available, change.version),
        ("TEE", 3, 2)
    );
    assert_eq!(s.t.engine.now_ms() / 10_000, change.at_ms / 10_000);
    assert_eq!(
        s.stock_subscriptions().await,
        2,
        "the node hears only the watched products"
    );

    drop(stream);
    for _ in 0..50 {
        if s.stock_subscriptions().await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the node kept its subscriptions after the client went away");
}

#[tokio::test]
async fn watch_stock_refuses_unknown_and_malformed_skus() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    let unknown = inventory
        .watch_stock(pb::WatchStockRequest {
            skus: vec!["NOPE".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let none = inventory
        .watch_stock(pb::WatchStockRequest { skus: vec![] })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&none), ["skus"]);
    let braced = inventory
        .watch_stock(pb::WatchStockRequest {
            skus: vec!["{x}".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&braced), ["sku"]);
}
