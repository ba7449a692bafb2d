//! Messages far larger than a call's first buffer travel whole, both ways.

use api_server::testing::TestServer;
use flashsale_proto::v1 as pb;

use super::create;

/// A call's buffers start at 512 bytes (`flashsale_proto::codec`), sized for
/// a reserve; a cart of 32 products with long names and its answer, each
/// several times that size, still travel whole.
#[tokio::test]
async fn a_cart_many_times_a_calls_first_buffer_travels_whole_both_ways() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    let skus: Vec<String> = (0..32)
        .map(|n| format!("LIMITED-EDITION-SNEAKER-{n:02}-{}", "X".repeat(24)))
        .collect();
    for sku in &skus {
        inventory.create_product(create(sku, 5)).await.unwrap();
    }
    let lines: Vec<(&str, i64)> = skus.iter().map(|sku| (sku.as_str(), 2)).collect();

    let cart = s
        .reservations()
        .await
        .reserve_cart(crate::cart_request("ann", "big-cart", &lines))
        .await
        .unwrap()
        .into_inner();

    let holds: Vec<&pb::Reservation> = cart
        .lines
        .iter()
        .map(|line| line.reservation.as_ref().expect("every line holds"))
        .collect();
    let held: Vec<(&str, i64)> = holds
        .iter()
        .map(|hold| (hold.sku.as_str(), hold.quantity))
        .collect();
    assert_eq!(held, lines);
    assert!(holds.iter().all(|hold| hold.customer_id == "ann"));
}
