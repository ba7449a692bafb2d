//! A merchant back-end that is not tonic: the Python standard gRPC client
//! (`tests/interop/client.py`), compiling the same `.proto` files, gets the
//! same answers as the engine holds.

use std::process::Command;

use api_server::testing::{TOKEN, TestServer};
use serde_json::Value;

#[tokio::test]
async fn a_python_grpc_client_gets_the_same_answers() {
    let s = TestServer::start().await;
    let manifest = env!("CARGO_MANIFEST_DIR");
    let target = s.grpc_addr().to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(std::env::var("FLASHSALE_PYTHON").unwrap_or_else(|_| "python3".into()))
            .arg(format!("{manifest}/tests/interop/client.py"))
            .args([
                target.as_str(),
                TOKEN,
                &format!("{manifest}/../proto"),
                "PY-ITEM",
            ])
            .output()
            .expect("run python3 (installed by .ci/install-deps)")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the Python client failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();

    assert_eq!(seen["created"]["available"], 3);
    assert_eq!(seen["created"]["version"], 1);
    assert_eq!(seen["reserve"]["available"], 1);
    assert_eq!(seen["reserve"]["state"], "HOLD_STATE_HELD");
    assert_eq!(seen["reserve"]["replayed"], true);
    assert_eq!(seen["reserve"]["replay_same_id"], true);
    assert_eq!(seen["sold_out"]["code"], "FAILED_PRECONDITION");
    assert_eq!(seen["sold_out"]["reason"], "OUT_OF_STOCK");
    assert_eq!(seen["no_token"]["code"], "UNAUTHENTICATED");
    assert_eq!(seen["confirmed"], "HOLD_STATE_CONFIRMED");
    assert_eq!(
        seen["cart_refused"],
        serde_json::json!({"code": "FAILED_PRECONDITION", "reason": "OUT_OF_STOCK", "sku": "PY-ITEM"})
    );
    let cart = seen["cart"].as_array().unwrap();
    assert_eq!(cart.len(), 2);
    for (line, (sku, available)) in cart.iter().zip([("PY-ITEM-B", 3), ("PY-ITEM-C", 4)]) {
        assert_eq!(line["state"], "HOLD_STATE_HELD");
        // The refused cart held nothing of B: only the granted one did.
        assert_eq!(line["available"], available, "{sku}");
        let id: reservation_core::ReservationId = line["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(id.sku().as_str(), sku);
        let sku = id.sku().clone();
        assert!(s.t.engine.audit(&sku).await.unwrap().is_clean());
    }

    // What Python saw is what the engine holds.
    let sku = "PY-ITEM".parse().unwrap();
    let stock = s.t.engine.product(&sku).await.unwrap().stock;
    let expected = serde_json::json!({
        "available": stock.available, "held": stock.held, "sold": stock.sold,
        "total": stock.total, "version": stock.version,
    });
    assert_eq!(seen["product"], expected);
    let id = seen["reserve"]["id"].as_str().unwrap().parse().unwrap();
    let hold = s.t.engine.reservation(&id).await.unwrap();
    assert_eq!(
        (hold.quantity, hold.customer_id.as_str()),
        (2, "py-shopper")
    );
    assert!(s.t.engine.audit(&sku).await.unwrap().is_clean());
}
