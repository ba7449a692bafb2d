//! The api-server's behaviour, specified against a real server on a private
//! Redis, called with real clients (tonic, HTTP, and a Python gRPC client).

mod auth;
mod binary;
mod browser;
mod contention;
mod convergence;
mod grpc;
mod http;
mod identity;
mod interop;
mod jwt;
mod limits;
mod live;
mod logs;
mod merchant;
mod probes;
mod push_browser;
mod resilience;
mod scale;
mod shopper_holds;
mod shutdown;

use flashsale_proto::v1 as pb;
use tonic::Status;
use tonic_types::StatusExt;

/// The `ErrorInfo` reason of a refusal.
pub fn reason(status: &Status) -> String {
    status
        .get_details_error_info()
        .map(|info| {
            assert_eq!(info.domain, api_server::grpc::DOMAIN);
            info.reason
        })
        .unwrap_or_default()
}

/// The fields a `BadRequest` detail names.
pub fn bad_fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// A `ReserveCart` request of `(sku, quantity)` lines.
pub fn cart_request(
    customer: &str,
    request: &str,
    lines: &[(&str, i64)],
) -> pb::ReserveCartRequest {
    pb::ReserveCartRequest {
        lines: lines
            .iter()
            .map(|&(sku, quantity)| pb::CartLine {
                sku: sku.into(),
                quantity,
            })
            .collect(),
        customer_id: customer.into(),
        request_id: request.into(),
    }
}

/// Reserves one unit of product TEE over HTTP with `header` naming the
/// shopper, as request `request`: the answer's status and body.
pub async fn reserve_one_tee(
    s: &api_server::testing::TestServer,
    header: (&str, String),
    request: &str,
) -> (reqwest::StatusCode, serde_json::Value) {
    let response = s
        .http
        .post(s.url("/api/products/TEE/reservations"))
        .header(header.0, header.1)
        .json(&serde_json::json!({"quantity": 1, "request_id": request}))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}
