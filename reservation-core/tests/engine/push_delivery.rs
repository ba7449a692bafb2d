//! What web push delivery stands on in the core: the sweep lists the holds
//! it sent "expiring soon" notices for; push jobs go through a stream and
//! its group, trimmed as the other streams are; the VAPID key is read from
//! the forms operators have it in; a demo's key is made up once.

use std::collections::HashSet;
use std::time::Duration;

use reservation_core::keys::{DEAD_PUSHES, PUSH_JOBS};
use reservation_core::testing::{TestEngine, customer_of, push_subscription_n};
use reservation_core::{Error, ExpiryNotice, PushJob, PushKind, VapidKey};

#[tokio::test]
async fn a_sweep_lists_the_holds_it_sent_expiry_notices_for() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 10, |p| p.hold_seconds = 120).await;
    let ann = t.reserved(&sku, "ann", 2, "r1").await.hold;
    let bob = t.reserved(&sku, "bob", 1, "r2").await.hold;
    let lead = t.engine.config().expiry_notice.as_millis() as i64;
    let swept = t.engine.sweep_product(&sku, 64).await.unwrap();
    assert!(swept.notices.is_empty(), "not yet");

    t.advance(Duration::from_millis(
        (ann.expires_at_ms - lead - t.engine.now_ms()) as u64,
    ));
    let mut notices = t.engine.sweep_product(&sku, 64).await.unwrap().notices;
    notices.sort_by(|a, b| a.customer.cmp(&b.customer));
    assert_eq!(
        notices,
        [
            ExpiryNotice {
                reservation_id: ann.id.clone(),
                customer: customer_of("ann"),
                quantity: 2,
                expires_at_ms: ann.expires_at_ms,
            },
            ExpiryNotice {
                reservation_id: bob.id.clone(),
                customer: customer_of("bob"),
                quantity: 1,
                expires_at_ms: bob.expires_at_ms,
            },
        ]
    );
    assert!(
        t.engine
            .sweep_product(&sku, 64)
            .await
            .unwrap()
            .notices
            .is_empty(),
        "each hold's notice once"
    );
}

fn jobs(count: usize) -> Vec<PushJob> {
    let sku = reservation_core::testing::sku_of("TEE");
    (0..count)
        .map(|n| PushJob {
            kind: if n % 2 == 0 {
                PushKind::SaleOpens
            } else {
                PushKind::HoldExpiring
            },
            sku: sku.clone(),
            customer: customer_of(&format!("fan-{n}")),
            subscription: push_subscription_n(n),
            notice: if n % 2 == 0 {
                n.to_string()
            } else {
                format!("TEE~R{n}")
            },
            expires_at_ms: (n % 2 == 1).then_some(1_700_000_000_000 + n as i64),
            enqueued_at_ms: 1_700_000_000_000,
        })
        .collect()
}

#[tokio::test]
async fn push_jobs_go_through_a_stream_read_by_the_senders_group() {
    let t = TestEngine::start_real_time().await;
    t.use_small_stream_nodes().await;
    let group = t
        .engine
        .push_job_group(Duration::from_millis(10))
        .await
        .unwrap();
    let sent = jobs(30);
    t.engine.enqueue_push_jobs(&sent).await.unwrap();
    t.engine.enqueue_push_jobs(&[]).await.unwrap();

    let taken = group
        .read("sender-1", 20, Duration::from_millis(10))
        .await
        .unwrap();
    let read: Vec<PushJob> = taken
        .iter()
        .map(|e| PushJob::from_entry(e).unwrap())
        .collect();
    assert_eq!(read, sent[..20], "as enqueued, in order");
    for entry in &taken[..10] {
        group.ack(&entry.id).await.unwrap();
    }

    // Past their retention the acknowledged jobs go; the pending and the
    // unread stay.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let trimmed = t
        .engine
        .trim_push_streams(Duration::ZERO, Duration::ZERO)
        .await
        .unwrap();
    assert!(trimmed <= 10, "{trimmed} trimmed of 10 acknowledged");
    let left = group
        .claim_idle("sender-2", Duration::ZERO, 100)
        .await
        .unwrap();
    let left: HashSet<String> = left.into_iter().map(|e| e.id).collect();
    assert!(
        taken[10..].iter().all(|e| left.contains(&e.id)),
        "a pending job was trimmed"
    );
    let unread = group
        .read("sender-2", 100, Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(unread.len(), 10, "an unread job was trimmed");

    let mut garbage = unread[0].clone();
    garbage.map.remove("endpoint");
    assert!(matches!(
        PushJob::from_entry(&garbage),
        Err(Error::Internal(_))
    ));
    // A notice no claim could accept is refused on reading, not on every
    // claim after: ms for a round's kinds, a reservation id for a hold's.
    for (kind, notice, readable) in [
        ("sale_opens", "1700000000000", true),
        ("sale_opens", "soon", false),
        ("back_in_stock", "TEE~R1", false),
        ("hold_expiring", "TEE~R1", true),
        ("hold_expiring", "1700000000000", false),
    ] {
        let mut entry = unread[1].clone();
        for (name, value) in [("kind", kind), ("notice", notice)] {
            entry
                .map
                .insert(name.to_owned(), redis::Value::BulkString(value.into()));
        }
        let read = PushJob::from_entry(&entry);
        assert_eq!(read.is_ok(), readable, "{kind} {notice}: {read:?}");
        if let Err(e) = read {
            assert!(e.to_string().contains("notice"), "{e}");
        }
    }

    t.engine
        .append_to_stream(DEAD_PUSHES, &[("reason", "410 Gone".to_owned())])
        .await
        .unwrap();
    assert_eq!(group.stream(), PUSH_JOBS);
}

#[tokio::test]
async fn idle_jobs_behind_many_still_kept_are_reached_within_a_few_claims() {
    let t = TestEngine::start_real_time().await;
    let group = t
        .engine
        .push_job_group(Duration::from_millis(10))
        .await
        .unwrap();
    t.engine.enqueue_push_jobs(&jobs(30)).await.unwrap();
    let block = Duration::from_millis(10);
    let alive = group.read("alive", 25, block).await.unwrap();
    let dead = group.read("dead", 5, block).await.unwrap();
    assert_eq!((alive.len(), dead.len()), (25, 5));
    tokio::time::sleep(Duration::from_millis(400)).await;
    for entry in &alive {
        assert!(group.keep("alive", &entry.id).await.unwrap());
    }

    // A claim of one looks at about ten pending entries: those of the
    // living consumer, at the front, are not idle; the dead one's are.
    let idle = Duration::from_millis(300);
    let mut claimed = Vec::new();
    for _ in 0..5 {
        claimed.extend(group.claim_idle("taker", idle, 1).await.unwrap());
    }
    let dead: HashSet<&str> = dead.iter().map(|e| e.id.as_str()).collect();
    assert!(
        !claimed.is_empty(),
        "idle jobs behind 25 kept ones never reached"
    );
    assert!(claimed.iter().all(|e| dead.contains(e.id.as_str())));
}

// A key `openssl ecparam -genkey -name prime256v1` made, and its forms.
const SEC1_PEM: &str = "-----BEGIN EC PARAMETERS-----
BggqhkjOPQMBBw==
-----END EC PARAMETERS-----
-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIETRDYrL+wMJImZ17XTP+vQgu3CYdF5SvTkX8aJuBYxKoAoGCCqGSM49
AwEHoUQDQgAEt/w5oWL19gI7m6zQl9qJ0ZxlJWROSSX6T+wut24r9E3pmMjAg0PK
DSS8BFzS4J1vOexRGgDWSCT0WjRPKPSd1A==
-----END EC PRIVATE KEY-----
";
const PKCS8_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgRNENisv7AwkiZnXt
dM/69CC7cJh0XlK9ORfxom4FjEqhRANCAAS3/DmhYvX2AjubrNCX2onRnGUlZE5J
JfpP7C63biv0TemYyMCDQ8oNJLwEXNLgnW857FEaANZIJPRaNE8o9J3U
-----END PRIVATE KEY-----
";
const PRIVATE: &str = "RNENisv7AwkiZnXtdM_69CC7cJh0XlK9ORfxom4FjEo";
const PUBLIC: &str =
    "BLf8OaFi9fYCO5us0JfaidGcZSVkTkkl-k_sLrduK_RN6ZjIwINDyg0kvARc0uCdbznsURoA1kgk9Fo0Tyj0ndQ";

#[test]
fn a_vapid_key_is_read_from_pem_sec1_pkcs8_or_base64url_and_gives_its_public_point() {
    for key in [
        VapidKey::from_pem(SEC1_PEM).unwrap(),
        VapidKey::from_pem(PKCS8_PEM).unwrap(),
        VapidKey::from_base64url(PRIVATE).unwrap(),
        VapidKey::from_base64url(&format!("{PRIVATE}=\n")).unwrap(),
    ] {
        assert_eq!(key.to_base64url(), PRIVATE);
        assert_eq!(key.public_key_base64url(), PUBLIC);
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("sec1.pem", SEC1_PEM),
        ("pkcs8.pem", PKCS8_PEM),
        ("raw.txt", PRIVATE),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        assert_eq!(
            VapidKey::read_file(&path).unwrap().to_base64url(),
            PRIVATE,
            "{name}"
        );
    }

    let made = VapidKey::generate();
    let public = made.public_key_bytes();
    assert_eq!((public.len(), public[0]), (65, 0x04));
    let again = VapidKey::from_base64url(&made.to_base64url()).unwrap();
    assert_eq!(again.public_key_base64url(), made.public_key_base64url());
    assert_eq!(again.private_bytes(), made.private_bytes());
    assert!(
        !format!("{made:?}").contains(&made.to_base64url()),
        "Debug shows no secret"
    );

    for bad in ["", "abc", &PUBLIC[..40], "!!!!"] {
        assert!(
            matches!(
                VapidKey::from_base64url(bad),
                Err(Error::InvalidArgument { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(
        VapidKey::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----").is_err()
    );
    let missing = dir.path().join("missing.pem");
    assert!(matches!(
        VapidKey::read_file(&missing),
        Err(Error::InvalidArgument {
            field: "vapid_private_key_file",
            ..
        })
    ));
}

#[test]
fn the_vapid_flags_take_a_file_or_a_key_but_not_both() {
    use clap::Parser;
    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        vapid: reservation_core::VapidArgs,
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vapid.pem");
    std::fs::write(&path, SEC1_PEM).unwrap();
    let file = path.to_str().unwrap();

    let from_file = Args::try_parse_from(["x", "--vapid-private-key-file", file]).unwrap();
    assert_eq!(
        from_file
            .vapid
            .load()
            .unwrap()
            .unwrap()
            .public_key_base64url(),
        PUBLIC
    );
    let given = Args::try_parse_from(["x", "--vapid-private-key", PRIVATE]).unwrap();
    assert_eq!(
        given.vapid.load().unwrap().unwrap().public_key_base64url(),
        PUBLIC
    );
    assert!(
        Args::try_parse_from(["x"])
            .unwrap()
            .vapid
            .load()
            .unwrap()
            .is_none()
    );
    assert!(
        Args::try_parse_from([
            "x",
            "--vapid-private-key-file",
            file,
            "--vapid-private-key",
            PRIVATE
        ])
        .is_err()
    );
}

#[tokio::test]
async fn a_demo_makes_up_one_vapid_key_that_every_process_shares() {
    let t = TestEngine::start().await;
    let first = t.engine.demo_vapid_key().await.unwrap();
    let other = t
        .another_engine(reservation_core::ConnectionMode::Multiplexed)
        .await;
    let second = other.demo_vapid_key().await.unwrap();
    assert_eq!(first.public_key_base64url(), second.public_key_base64url());
    assert_eq!(
        first.to_base64url(),
        t.engine.demo_vapid_key().await.unwrap().to_base64url()
    );
}
