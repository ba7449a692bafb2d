//! The push services a shop takes endpoints at: the browsers' by default,
//! an operator's list instead, never an address; plain http only to
//! loopback when allowed.

use super::*;

#[tokio::test]
async fn only_the_browsers_push_services_are_taken_by_default() {
    let s = push_server(20, false).await;
    with_product(&s, "TEE", 5).await;
    let taken = [
        CHROME,
        FIREFOX,
        "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAB",
        "https://web.push.apple.com/QGuQyavXutnMH6jMl0",
    ];
    for endpoint in taken {
        assert_eq!(
            endpoint_refusal(&s, "ann", endpoint).await,
            None,
            "{endpoint}"
        );
    }
    let refused = [
        // What a shopper would aim the workers at: addresses inside the
        // deployment, however written.
        "https://10.0.0.7/push",
        "https://127.0.0.1/push",
        "https://2130706433/push",
        "https://0x7f.1/push",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/push",
        "https://[fd00::7]/push",
        "https://[::ffff:10.0.0.7]/push",
        "https://localhost/push",
        "https://redis.internal/push",
        "https://metrics/push",
        // Their own server, to hold a worker's connections.
        "https://slow.example.net/push",
        // Near misses of the listed names.
        "https://fcm.googleapis.com.evil.example/fcm/send/x",
        "https://evilfcm.googleapis.com/fcm/send/x",
        "https://notify.windows.com/w/?token=x",
        "https://apple.com/push",
        "https://fcm.googleapis.com./fcm/send/x",
        // A listed name on another port, or with a user name.
        "https://fcm.googleapis.com:8443/fcm/send/x",
        "https://updates.push.services.mozilla.com:22/wpush/v2/x",
        "https://user@fcm.googleapis.com/fcm/send/x",
    ];
    for endpoint in refused {
        let message = endpoint_refusal(&s, "bob", endpoint)
            .await
            .unwrap_or_else(|| panic!("{endpoint} was taken"));
        assert!(
            message.contains("subscription.endpoint"),
            "{endpoint}: {message}"
        );
        if !endpoint.contains('@') {
            // The message says where subscriptions may point.
            assert!(
                message.contains("fcm.googleapis.com")
                    && message.contains("updates.push.services.mozilla.com")
                    && message.contains("*.notify.windows.com")
                    && message.contains("web.push.apple.com"),
                "{endpoint}: {message}"
            );
        }
    }
    assert!(
        listed(&s, "bob").await.is_empty(),
        "nothing refused was kept"
    );
    assert_eq!(listed(&s, "ann").await.len(), taken.len());
}

#[tokio::test]
async fn an_operators_list_replaces_the_browsers_push_services() {
    let services = PushServices::parse_list("ntfy.shop.example:8443, *.up.example").unwrap();
    let s = push_server_taking(
        20,
        EndpointPolicy {
            push_services: services,
            ..EndpointPolicy::default()
        },
    )
    .await;
    with_product(&s, "TEE", 5).await;
    for endpoint in [
        "https://ntfy.shop.example:8443/upAbc?up=1",
        "https://eu.up.example/push/1",
        "https://a.b.up.example/push/2",
    ] {
        assert_eq!(
            endpoint_refusal(&s, "ann", endpoint).await,
            None,
            "{endpoint}"
        );
    }
    for endpoint in [
        CHROME,
        "https://ntfy.shop.example/upAbc",
        "https://ntfy.shop.example:8444/upAbc",
        "https://up.example/push",
        "https://10.0.0.7:8443/push",
    ] {
        let message = endpoint_refusal(&s, "bob", endpoint)
            .await
            .unwrap_or_else(|| panic!("{endpoint} was taken"));
        assert!(
            message.contains("ntfy.shop.example:8443, *.up.example"),
            "{endpoint}: {message}"
        );
    }
}

#[tokio::test]
async fn plain_http_to_loopback_needs_no_listed_push_service_but_https_to_an_address_does() {
    let s = push_server(20, true).await;
    with_product(&s, "TEE", 5).await;
    for endpoint in [
        "http://127.0.0.1:4567/push/ann",
        "http://localhost:4567/push/ann",
    ] {
        assert_eq!(
            endpoint_refusal(&s, "ann", endpoint).await,
            None,
            "{endpoint}"
        );
    }
    for endpoint in [
        "https://127.0.0.1:4567/push/ann",
        "https://[::1]/push/ann",
        "https://localhost:4567/push/ann",
        "http://10.0.0.7/push",
        "http://fcm.googleapis.com/fcm/send/x",
    ] {
        assert!(
            endpoint_refusal(&s, "bob", endpoint).await.is_some(),
            "{endpoint} was taken"
        );
    }
}
