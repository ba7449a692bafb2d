//! "Notify me" and the service worker in a real browser (Playwright and
//! Chromium, `web/tests/push.mjs`) against a real server with a VAPID key and
//! Redis. No purchase worker: the pushes are delivered to the service worker
//! through the DevTools protocol, since Chromium here reaches no push service
//! (the sending side is specified against a loopback receiver in
//! purchase-worker's push specs).

use api_server::PushOptions;
use api_server::testing::{ServerOptions, TestServer};
use reservation_core::{EndpointPolicy, PushServices, VapidKey};
use serde_json::Value;

use super::browser::run_browser_script;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_product_page_subscribes_and_its_service_worker_shows_pushes() {
    let options = ServerOptions {
        push: PushOptions {
            vapid_public_key: Some(VapidKey::generate().public_key_base64url()),
            // The stand-in PushManager's made-up endpoints.
            endpoints: EndpointPolicy {
                push_services: PushServices::parse_list("push.example.test").unwrap(),
                ..EndpointPolicy::default()
            },
            ..PushOptions::default()
        },
        ..ServerOptions::default()
    };
    let s = TestServer::start_with(options).await;
    let in_an_hour = s.t.engine.now_ms() + 3_600_000;
    s.t.product_with("PUSH-SOON", 20, |p| p.sale_starts_at_ms = Some(in_an_hour))
        .await;
    s.t.product("PUSH-OPEN", 20).await;

    let summary = run_browser_script(
        "push.mjs",
        vec![s.url(""), "PUSH-SOON".to_owned(), "PUSH-OPEN".to_owned()],
    )
    .await;
    println!("push browser run: {summary}");
    assert!(summary["subscribe"].is_string(), "{summary}");
    for step in [
        "hidden_without_push",
        "notification_shown",
        "same_tag_replaces",
        "generic_notification",
        "foreign_url_ignored",
        "denied_in_words",
        "subscribed_through_the_server",
        "reload_shows_state",
        "turned_off",
        "refusals_in_words",
    ] {
        assert_eq!(summary[step], Value::Bool(true), "{step}: {summary}");
    }
}
