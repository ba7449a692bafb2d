//! Where a push subscription may point: the workers post a signed request to
//! every endpoint taken, so only a push service the deployment accepts (the
//! browsers' own unless the operator lists others), named by host, on its
//! port; plain http only to loopback, when the policy allows. Anything else
//! (an address inside the deployment, an internal name, a shopper's own
//! server) is refused naming the endpoint and saying what is accepted.

use reservation_core::testing::{TestEngine, customer_of};
use reservation_core::{
    EndpointPolicy, Error, PushServiceHost, PushServices, PushSubscription, PushTopics, VapidKey,
};

const AUTH: &str = "AAECAwQFBgcICQoLDA0ODw";

fn subscription(
    endpoint: &str,
    policy: EndpointPolicy,
) -> reservation_core::Result<PushSubscription> {
    PushSubscription::new(
        endpoint,
        &VapidKey::generate().public_key_base64url(),
        AUTH,
        policy,
    )
}

/// The reason of a refusal naming `endpoint`.
fn refusal(endpoint: &str, policy: EndpointPolicy) -> String {
    match subscription(endpoint, policy) {
        Err(Error::InvalidArgument {
            field: "endpoint",
            reason,
        }) => reason,
        other => panic!("{endpoint}: expected a refusal naming the endpoint, got {other:?}"),
    }
}

fn taken(endpoint: &str, policy: EndpointPolicy) -> PushSubscription {
    subscription(endpoint, policy).unwrap_or_else(|e| panic!("{endpoint}: {e}"))
}

#[test]
fn by_default_the_browsers_push_services_are_taken() {
    let policy = EndpointPolicy::default();
    assert_eq!(policy.push_services, PushServices::BROWSERS);
    assert!(!policy.allow_http_loopback);
    for (endpoint, origin) in [
        (
            "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91b",
            "https://fcm.googleapis.com",
        ),
        (
            "https://fcm.googleapis.com/wp/dGVzdA",
            "https://fcm.googleapis.com",
        ),
        (
            "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk",
            "https://updates.push.services.mozilla.com",
        ),
        (
            "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAB",
            "https://wns2-par02p.notify.windows.com",
        ),
        (
            "https://web.push.apple.com/QGuQyavXutnMH6jMl0",
            "https://web.push.apple.com",
        ),
        // Case and an explicit default port are the URL's spelling, not
        // another host.
        (
            "https://FCM.googleapis.com:443/fcm/send/x",
            "https://fcm.googleapis.com",
        ),
    ] {
        assert_eq!(taken(endpoint, policy).origin(), origin, "{endpoint}");
    }
}

#[test]
fn ip_addresses_internal_names_and_other_hosts_are_refused_saying_what_is_accepted() {
    let policy = EndpointPolicy::default();
    let accepted = "fcm.googleapis.com, updates.push.services.mozilla.com, \
                    *.notify.windows.com, web.push.apple.com";
    for endpoint in [
        "https://10.0.0.7/push",
        "https://192.168.1.1:6379/",
        "https://127.0.0.1/push",
        "https://169.254.169.254/latest/meta-data/",
        "https://2130706433/push",
        "https://0x7f.0.0.1/push",
        "https://0177.0.0.1/push",
        "https://[::1]/push",
        "https://[fe80::1]/push",
        "https://[fd00::7]/push",
        "https://[::ffff:127.0.0.1]/push",
        "https://[2a00:1450:4001::5f]/push",
    ] {
        let reason = refusal(endpoint, policy);
        assert!(reason.contains("not an IP address"), "{endpoint}: {reason}");
        assert!(reason.contains(accepted), "{endpoint}: {reason}");
    }
    for endpoint in [
        "https://localhost/push",
        "https://redis/push",
        "https://api-server.internal:9090/metrics",
        "https://slow.example.net/push",
        "https://fcm.googleapis.com.evil.example/fcm/send/x",
        "https://evilfcm.googleapis.com/fcm/send/x",
        "https://googleapis.com/fcm/send/x",
        "https://notify.windows.com/w/?token=x",
        "https://push.apple.com/x",
        "https://fcm.googleapis.com./fcm/send/x",
    ] {
        let reason = refusal(endpoint, policy);
        assert!(
            reason.contains(&format!("push service this shop accepts ({accepted})")),
            "{endpoint}: {reason}"
        );
    }
}

#[test]
fn a_listed_host_on_another_port_is_refused_unless_listed_with_it() {
    let browsers = EndpointPolicy::default();
    for endpoint in [
        "https://fcm.googleapis.com:8443/fcm/send/x",
        "https://web.push.apple.com:80/x",
        "https://updates.push.services.mozilla.com:6379/wpush/v2/x",
    ] {
        let reason = refusal(endpoint, browsers);
        assert!(reason.contains(":"), "{endpoint}: {reason}");
        assert!(
            reason.contains("fcm.googleapis.com"),
            "{endpoint}: {reason}"
        );
    }
    const NTFY: &[PushServiceHost] = &[PushServiceHost::exact("ntfy.shop.example").with_port(8443)];
    let ntfy = EndpointPolicy {
        push_services: PushServices::new(NTFY),
        ..EndpointPolicy::default()
    };
    assert_eq!(
        taken("https://ntfy.shop.example:8443/upAbc?up=1", ntfy).origin(),
        "https://ntfy.shop.example:8443"
    );
    refusal("https://ntfy.shop.example/upAbc", ntfy);
    refusal("https://ntfy.shop.example:8444/upAbc", ntfy);
}

#[test]
fn userinfo_is_refused_even_at_a_listed_host() {
    for endpoint in [
        "https://user@fcm.googleapis.com/fcm/send/x",
        "https://user:pw@fcm.googleapis.com/fcm/send/x",
        "https://fcm.googleapis.com@10.0.0.7/fcm/send/x",
    ] {
        refusal(endpoint, EndpointPolicy::default());
    }
}

#[test]
fn plain_http_to_loopback_with_the_policy_needs_no_listed_service() {
    let loopback = EndpointPolicy {
        allow_http_loopback: true,
        push_services: PushServices::new(&[]),
    };
    for endpoint in [
        "http://127.0.0.1:9000/push/1",
        "http://[::1]:9000/push",
        "http://localhost:9000/push",
    ] {
        assert!(taken(endpoint, loopback).origin().starts_with("http://"));
        refusal(endpoint, EndpointPolicy::default());
    }
    // https to loopback is an address or a name like any other.
    for endpoint in [
        "https://127.0.0.1:9000/push",
        "https://localhost:9000/push",
        "http://10.0.0.7/push",
        "http://fcm.googleapis.com/fcm/send/x",
    ] {
        refusal(endpoint, loopback);
    }
}

#[test]
fn an_operators_list_replaces_the_browsers_and_reads_hosts_subdomains_and_ports() {
    let services = PushServices::parse_list(" ntfy.shop.example:8443 ,*.UP.example").unwrap();
    assert_eq!(services.to_string(), "ntfy.shop.example:8443, *.up.example");
    let policy = EndpointPolicy {
        push_services: services,
        ..EndpointPolicy::default()
    };
    taken("https://ntfy.shop.example:8443/upAbc", policy);
    taken("https://eu.up.example/push", policy);
    taken("https://a.b.up.example/push", policy);
    for endpoint in [
        "https://fcm.googleapis.com/fcm/send/x",
        "https://up.example/push",
        "https://eu.up.example:8443/push",
        "https://evilup.example/push",
    ] {
        let reason = refusal(endpoint, policy);
        assert!(
            reason.contains("(ntfy.shop.example:8443, *.up.example)"),
            "{endpoint}: {reason}"
        );
    }
}

#[test]
fn a_listed_host_must_be_a_host_name() {
    for text in [
        "",
        "*.",
        "10.0.0.7",
        "127.0.0.1:8443",
        "2130706433",
        "0x7f.1",
        "[::1]",
        "::1",
        "fd00::7",
        "https://fcm.googleapis.com",
        "fcm.googleapis.com/path",
        "user@fcm.googleapis.com",
        "*fcm.googleapis.com",
        "fcm..googleapis.com",
        "-fcm.googleapis.com",
        "fcm.googleapis.com:0",
        "fcm.googleapis.com:65536",
        "fcm.googleapis.com:",
        "ntfy example",
    ] {
        match text.parse::<PushServiceHost>() {
            Err(Error::InvalidArgument { .. }) => {}
            other => panic!("{text:?}: expected a refusal, got {other:?}"),
        }
    }
    assert!(PushServices::parse_list("fcm.googleapis.com,").is_err());
    assert_eq!(
        "Push.Example:443".parse::<PushServiceHost>().unwrap(),
        PushServiceHost::exact("push.example")
    );
    assert_eq!(
        "*.notify.windows.com".parse::<PushServiceHost>().unwrap(),
        PushServiceHost::under("notify.windows.com")
    );
}

/// The api-server checked a subscription against its list when it took it;
/// the workers, which do not know that list, read it back as stored.
#[tokio::test]
async fn a_subscription_to_an_operators_push_service_reads_back_from_redis() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 1).await;
    let ann = customer_of("ann");
    let policy = EndpointPolicy {
        push_services: PushServices::parse_list("ntfy.shop.example:8443").unwrap(),
        ..EndpointPolicy::default()
    };
    let sub = taken("https://ntfy.shop.example:8443/upAbc", policy);
    let topics = PushTopics {
        sale_opens: true,
        ..PushTopics::default()
    };
    t.engine
        .subscribe_push(&ann, &sku, &sub, topics, 20)
        .await
        .unwrap();
    let interests = t.engine.push_interests_of(&ann).await.unwrap();
    assert_eq!(interests.len(), 1);
    assert_eq!(interests[0].subscription, sub);
    assert_eq!(
        interests[0].subscription.origin(),
        "https://ntfy.shop.example:8443"
    );
}
