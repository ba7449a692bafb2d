//! A shopper's push subscriptions over HTTP: the VAPID key served, a
//! subscription made, replaced, listed and removed by its shopper alone,
//! malformed ones refused naming the field, the bound per shopper.

use super::*;

#[tokio::test]
async fn the_vapid_public_key_is_public_and_cacheable() {
    let key = VapidKey::generate();
    let s = TestServer::start_with(ServerOptions {
        push: PushOptions {
            vapid_public_key: Some(key.public_key_base64url()),
            ..PushOptions::default()
        },
        ..ServerOptions::default()
    })
    .await;
    // No shopper named: the page asks before anyone signs in.
    let response = s
        .http
        .get(s.url("/api/push/vapid-public-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
    let body: Value = response.json().await.unwrap();
    let served = body["public_key"].as_str().unwrap();
    assert_eq!(served, key.public_key_base64url());
    let point = URL_SAFE_NO_PAD.decode(served).unwrap();
    assert_eq!((point.len(), point[0]), (65, 0x04), "an uncompressed point");

    let off = TestServer::start().await;
    let response = off
        .http
        .get(off.url("/api/push/vapid-public-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        error_code(&response.json().await.unwrap()),
        "PUSH_UNAVAILABLE"
    );
    let body = json!({"subscription": browser_subscription(CHROME), "notify": ["sale_opens"]});
    let (status, answer) = subscribe(&off, "ann", "TEE", &body).await;
    assert_eq!(
        (status, error_code(&answer)),
        (StatusCode::SERVICE_UNAVAILABLE, "PUSH_UNAVAILABLE"),
        "nothing could ever be pushed to it"
    );
}

#[tokio::test]
async fn a_subscription_is_listed_and_subscribing_again_replaces_its_topics() {
    let s = push_server(20, false).await;
    with_product(&s, "TEE", 5).await;
    let body = json!({
        "subscription": browser_subscription(CHROME),
        "notify": ["sale_opens", "back_in_stock"],
    });
    let (status, answer) = subscribe(&s, "ann", "TEE", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["sku"], "TEE");
    assert_eq!(answer["endpoint"], CHROME);
    assert_eq!(answer["notify"], json!(["sale_opens", "back_in_stock"]));
    let id = answer["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 22, "16 bytes of SHA-256, base64url");
    assert_eq!(
        listed(&s, "ann").await,
        [(
            "TEE".into(),
            CHROME.into(),
            json!(["sale_opens", "back_in_stock"])
        )]
    );

    // The same browser again (with fresh keys, as after a resubscribe).
    let again = json!({
        "subscription": browser_subscription(CHROME),
        "notify": ["hold_expiring"],
    });
    let (status, answer) = subscribe(&s, "ann", "TEE", &again).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["id"], id.as_str(), "the id is the endpoint's");
    assert_eq!(
        listed(&s, "ann").await,
        [("TEE".into(), CHROME.into(), json!(["hold_expiring"]))]
    );
    assert!(listed(&s, "bob").await.is_empty());
}

#[tokio::test]
async fn malformed_subscriptions_are_refused_naming_the_field() {
    let s = push_server(20, false).await;
    with_product(&s, "TEE", 5).await;
    let good = browser_subscription(CHROME);
    let with = |path: &[&str], value: Value| {
        let mut subscription = good.clone();
        let (last, parents) = path.split_last().unwrap();
        let parent = parents
            .iter()
            .fold(&mut subscription, |v, key| &mut v[*key]);
        match value {
            Value::Null => drop(parent.as_object_mut().unwrap().remove(*last)),
            value => parent[*last] = value,
        }
        json!({"subscription": subscription, "notify": ["back_in_stock"]})
    };
    let cases = [
        (
            "not a URL",
            with(&["endpoint"], json!("push me")),
            "subscription.endpoint",
        ),
        (
            "plain http elsewhere",
            with(&["endpoint"], json!("http://push.example.net/send/1")),
            "subscription.endpoint",
        ),
        (
            "plain http to loopback, not allowed here",
            with(&["endpoint"], json!("http://127.0.0.1:9/send/1")),
            "subscription.endpoint",
        ),
        (
            "over 1024 characters",
            with(
                &["endpoint"],
                json!(format!("https://push.example.net/{}", "a".repeat(1024))),
            ),
            "subscription.endpoint",
        ),
        (
            "no endpoint",
            with(&["endpoint"], Value::Null),
            "subscription.endpoint",
        ),
        (
            "p256dh of 64 bytes",
            with(
                &["keys", "p256dh"],
                json!(URL_SAFE_NO_PAD.encode([4u8; 64])),
            ),
            "subscription.keys.p256dh",
        ),
        (
            "auth of 15 bytes",
            with(&["keys", "auth"], json!(URL_SAFE_NO_PAD.encode([7u8; 15]))),
            "subscription.keys.auth",
        ),
        ("no keys", with(&["keys"], Value::Null), "subscription.keys"),
        (
            "no auth",
            with(&["keys", "auth"], Value::Null),
            "subscription.keys.auth",
        ),
        (
            "no subscription",
            json!({"notify": ["sale_opens"]}),
            "subscription",
        ),
        (
            "nothing to be told",
            json!({"subscription": good, "notify": []}),
            "notify",
        ),
        (
            "an unknown topic",
            json!({"subscription": good, "notify": ["sale_opens", "price_drop"]}),
            "notify",
        ),
        ("no topics", json!({"subscription": good}), "notify"),
    ];
    for (case, body, field) in cases {
        let (status, answer) = subscribe(&s, "ann", "TEE", &body).await;
        assert_eq!(
            (
                status,
                error_code(&answer),
                answer["error"]["field"].as_str()
            ),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_ARGUMENT",
                Some(field)
            ),
            "{case}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{case}: {message}");
    }
    assert!(listed(&s, "ann").await.is_empty(), "nothing was kept");
}

#[tokio::test]
async fn plain_http_is_taken_only_to_loopback_and_only_when_allowed() {
    let s = push_server(20, true).await;
    with_product(&s, "TEE", 5).await;
    let loopback = "http://127.0.0.1:4567/push/ann";
    notify(&s, "ann", "TEE", loopback, &["sale_opens"]).await;
    let elsewhere = json!({
        "subscription": browser_subscription("http://push.example.net/send/1"),
        "notify": ["sale_opens"],
    });
    let (status, answer) = subscribe(&s, "ann", "TEE", &elsewhere).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["field"], "subscription.endpoint");
    assert_eq!(
        listed(&s, "ann").await,
        [("TEE".into(), loopback.into(), json!(["sale_opens"]))]
    );
}

#[tokio::test]
async fn a_shopper_holds_at_most_the_bound() {
    let s = push_server(2, false).await;
    for sku in ["A", "B", "C"] {
        with_product(&s, sku, 5).await;
    }
    notify(&s, "ann", "A", CHROME, &["sale_opens"]).await;
    notify(&s, "ann", "B", CHROME, &["sale_opens"]).await;

    for (sku, endpoint) in [("C", CHROME), ("A", FIREFOX)] {
        let body =
            json!({"subscription": browser_subscription(endpoint), "notify": ["sale_opens"]});
        let (status, answer) = subscribe(&s, "ann", sku, &body).await;
        assert_eq!(
            (status, error_code(&answer)),
            (StatusCode::CONFLICT, "TOO_MANY_SUBSCRIPTIONS"),
            "{sku} {endpoint}: {answer}"
        );
    }
    // Replacing one's topics adds nothing; another shopper has a bound of their own.
    notify(&s, "ann", "A", CHROME, &["back_in_stock"]).await;
    notify(&s, "bob", "C", CHROME, &["sale_opens"]).await;
    assert_eq!(listed(&s, "ann").await.len(), 2);

    assert_eq!(
        unsubscribe(&s, "ann", "B", CHROME).await,
        StatusCode::NO_CONTENT
    );
    notify(&s, "ann", "C", CHROME, &["sale_opens"]).await;
}

#[tokio::test]
async fn a_subscription_is_removed_once_and_only_by_its_shopper_and_needs_a_product() {
    let s = push_server(20, false).await;
    with_product(&s, "TEE", 5).await;
    notify(&s, "ann", "TEE", CHROME, &["sale_opens"]).await;
    notify(&s, "ann", "TEE", FIREFOX, &["back_in_stock"]).await;

    assert_eq!(
        unsubscribe(&s, "bob", "TEE", CHROME).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        listed(&s, "ann").await.len(),
        2,
        "bob removed nothing of ann's"
    );

    assert_eq!(
        unsubscribe(&s, "ann", "TEE", CHROME).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        listed(&s, "ann").await,
        [("TEE".into(), FIREFOX.into(), json!(["back_in_stock"]))]
    );
    assert_eq!(
        unsubscribe(&s, "ann", "TEE", CHROME).await,
        StatusCode::NOT_FOUND
    );

    let body = json!({"subscription": browser_subscription(CHROME), "notify": ["sale_opens"]});
    let (status, answer) = subscribe(&s, "ann", "NOPE", &body).await;
    assert_eq!(
        (status, error_code(&answer)),
        (StatusCode::NOT_FOUND, "NOT_FOUND")
    );
}

#[tokio::test]
async fn a_subscription_needs_a_shopper() {
    let s = push_server(20, false).await;
    with_product(&s, "TEE", 5).await;
    let body = json!({"subscription": browser_subscription(CHROME), "notify": ["sale_opens"]});
    let path = s.url("/api/products/TEE/push-subscriptions");
    let anonymous = [
        s.http.post(&path).json(&body),
        s.http.delete(&path).json(&json!({"endpoint": CHROME})),
        s.http.get(s.url("/api/push/subscriptions")),
    ];
    for request in anonymous {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            error_code(&response.json().await.unwrap()),
            "UNAUTHENTICATED"
        );
    }
}
