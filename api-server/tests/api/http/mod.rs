//! The HTTP JSON API as a shopper's page calls it, one idea a file:
//!
//! - `products.rs`: products listed and read in the stock event's shape;
//! - `holds.rs`: a shopper's holds reserved, replayed, read, confirmed and
//!   cancelled by that shopper alone;
//! - `carts.rs`: a cart reserved whole or not at all;
//! - `push.rs`: "Notify me" subscriptions, the VAPID key, their refusals;
//! - `refusals.rs`: bad input and refused reserves answered with a status
//!   and a reason, changing nothing;
//! - `service.rs`: health, metrics and the pages.
//!
//! The helpers they share are here.

mod carts;
mod holds;
mod products;
mod push;
mod refusals;
mod service;

use api_server::testing::TestServer;
use reqwest::StatusCode;
use reservation_core::NewProduct;
use serde_json::Value;

async fn with_product(s: &TestServer, sku: &str, total: i64) {
    let mut product = NewProduct::new(sku.parse().unwrap(), format!("Product {sku}"), 2_500, total);
    product.per_customer_limit = 3;
    s.t.engine.create_product(&product).await.unwrap();
}

async fn reserve(s: &TestServer, customer: &str, sku: &str, body: Value) -> (StatusCode, Value) {
    let response = s
        .http
        .post(s.url(&format!("/api/products/{sku}/reservations")))
        .header("x-customer-id", customer)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}
