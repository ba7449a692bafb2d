//! What a push says and how the push service treats it: the [`Notification`]
//! the service worker shows (encrypted, so only the browser reads it), and the
//! `Topic`, `TTL` and `Urgency` the push service reads.
//!
//! The words are made when the push is sent, not when it was planned, from
//! the product as it is then: its name, and how many units are available
//! (a "back in stock" queued behind a slow push service may find the
//! product gone again, and says so rather than promise units).

use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use reservation_core::{Product, PushJob, PushKind, Sku};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::send::Urgency;

/// How long a "sale opens" may wait at the push service for a browser that
/// is offline: past an hour the rush is over.
const SALE_OPENS_TTL: Duration = Duration::from_secs(60 * 60);
/// "Back in stock" goes stale fast: the units are gone within minutes.
const BACK_IN_STOCK_TTL: Duration = Duration::from_secs(15 * 60);
/// A hold's notice without the hold's deadline (a job of an older version)
/// is worth sending only soon after it was made.
const HOLD_WITHOUT_DEADLINE_TTL: Duration = Duration::from_secs(60);
/// RFC 8030 allows a TTL of 0 ("deliver now or never"), but a hold about to
/// expire is still worth a second's wait.
const MIN_TTL: Duration = Duration::from_secs(1);
/// The Topic header's longest value (RFC 8030 section 5.4).
const TOPIC_LEN: usize = 32;

/// The encrypted payload: what `web/sw.js` shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// `sale_opens`, `back_in_stock` or `hold_expiring`.
    pub kind: String,
    pub sku: String,
    pub title: String,
    pub body: String,
    /// The product page, relative to the shop: a click opens or focuses it.
    pub url: String,
    /// Units available when the push was made.
    pub available: i64,
    /// When the push was made, ms since the epoch.
    pub at_ms: i64,
    /// `KIND:SKU`: a newer notification with the same tag replaces the one
    /// still on screen, so a shopper never sees two "back in stock" for one
    /// product.
    pub tag: String,
}

impl Notification {
    /// The notification for `job`, with `product` as it is now.
    pub fn for_job(job: &PushJob, product: &Product, now_ms: i64) -> Self {
        let name = &product.name;
        let available = product.stock.available.max(0);
        let (title, body) = match job.kind {
            PushKind::SaleOpens => (
                format!("{name}: the sale is open"),
                match available {
                    0 => "The sale has started, but every unit is taken right now.".to_owned(),
                    n => format!(
                        "The sale has started: {} available. Reserve yours now.",
                        units(n)
                    ),
                },
            ),
            PushKind::BackInStock => (
                format!("{name} is back in stock"),
                match available {
                    0 => "Some came back, but they are taken again for now.".to_owned(),
                    n => format!("{} available now. Reserve yours before they go.", units(n)),
                },
            ),
            PushKind::HoldExpiring => (
                format!("Your hold on {name} is about to expire"),
                format!(
                    "It expires {}. Complete your purchase to keep it.",
                    time_left(job.expires_at_ms, now_ms)
                ),
            ),
        };
        Self {
            kind: job.kind.as_str().to_owned(),
            sku: job.sku.to_string(),
            title,
            body,
            url: format!("/p/{}", job.sku),
            available,
            at_ms: now_ms,
            tag: tag(job.kind, &job.sku),
        }
    }

    /// The JSON the browser decrypts.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a notification is plain JSON")
    }
}

/// `KIND:SKU`, the notification's tag and what its topic is made from.
fn tag(kind: PushKind, sku: &Sku) -> String {
    format!("{}:{sku}", kind.as_str())
}

/// The `Topic` header: a push service keeps only the newest push of a topic
/// still queued for a subscription, so a browser coming back online gets one
/// "back in stock" per product, not one per round. The header allows 32
/// base64url characters; a SKU may hold up to 64 of any, so it is hashed.
pub fn topic(kind: PushKind, sku: &Sku) -> String {
    let digest = Sha256::digest(tag(kind, sku).as_bytes());
    let mut topic = Base64UrlUnpadded::encode_string(&digest);
    topic.truncate(TOPIC_LEN);
    topic
}

/// Until when (ms since the epoch) `job` is of use: a sale opening an hour
/// from the sale's start (its notice; from when it was enqueued if the
/// notice is no time), "back in stock" a quarter of an hour from its round,
/// a hold's notice until the hold's deadline (an old job without one: a
/// minute from when it was enqueued). The one place that decides when a
/// push is too late: [`ttl`] and the deliverer both ask it.
pub fn good_until_ms(job: &PushJob) -> i64 {
    let after = |from_ms: i64, ttl: Duration| from_ms.saturating_add(ttl.as_millis() as i64);
    match job.kind {
        PushKind::SaleOpens => {
            let start = job.notice.parse::<i64>().unwrap_or(job.enqueued_at_ms);
            after(start, SALE_OPENS_TTL)
        }
        PushKind::BackInStock => after(job.enqueued_at_ms, BACK_IN_STOCK_TTL),
        PushKind::HoldExpiring => job
            .expires_at_ms
            .unwrap_or_else(|| after(job.enqueued_at_ms, HOLD_WITHOUT_DEADLINE_TTL)),
    }
}

/// How long the push service should keep the push, sent at `now_ms`, for a
/// browser that is offline: what is left of its time (a job that waited
/// behind a slow push service must not be kept past its use), at least
/// [`MIN_TTL`]. None when its time is over: it is not sent at all.
pub fn ttl(job: &PushJob, now_ms: i64) -> Option<Duration> {
    let left_ms = good_until_ms(job).saturating_sub(now_ms);
    let left_ms = u64::try_from(left_ms).ok().filter(|&left| left > 0)?;
    Some(Duration::from_secs(left_ms.div_ceil(1000)).max(MIN_TTL))
}

/// How eagerly the push service should wake the device (RFC 8030 section
/// 5.3): a sale opening and an expiring hold are worth a battery's wake-up.
pub fn urgency(kind: PushKind) -> Urgency {
    match kind {
        PushKind::SaleOpens | PushKind::HoldExpiring => Urgency::High,
        PushKind::BackInStock => Urgency::Normal,
    }
}

fn units(n: i64) -> String {
    if n == 1 {
        "1 unit".to_owned()
    } else {
        format!("{n} units")
    }
}

/// "in about 3 minutes", from the hold's deadline; the shopper's clock and
/// time zone are unknown here, so the time is told relative.
fn time_left(deadline_ms: Option<i64>, now_ms: i64) -> String {
    let Some(deadline_ms) = deadline_ms else {
        return "soon".to_owned();
    };
    let seconds = deadline_ms.saturating_sub(now_ms) / 1000;
    match seconds {
        ..60 => "in less than a minute".to_owned(),
        60..120 => "in about a minute".to_owned(),
        _ => format!("in about {} minutes", seconds / 60),
    }
}

#[cfg(test)]
mod tests {
    use reservation_core::testing::TEST_ENDPOINTS;
    use reservation_core::{CustomerId, PushSubscription, VapidKey};

    use super::*;

    fn job(kind: PushKind, expires_at_ms: Option<i64>) -> PushJob {
        let p256dh = VapidKey::generate().public_key_base64url();
        let subscription = PushSubscription::new(
            "https://push.example/s/1",
            &p256dh,
            "AAAAAAAAAAAAAAAAAAAAAA",
            TEST_ENDPOINTS,
        )
        .unwrap();
        PushJob {
            kind,
            sku: Sku::new("tee").unwrap(),
            customer: CustomerId::new("alice").unwrap(),
            subscription,
            notice: "n".to_owned(),
            expires_at_ms,
            enqueued_at_ms: 0,
        }
    }

    fn product(available: i64) -> Product {
        reservation_core::testing::product_as_read(&Sku::new("tee").unwrap(), available)
    }

    #[test]
    fn a_notification_tells_the_product_and_its_live_count() {
        let back = Notification::for_job(&job(PushKind::BackInStock, None), &product(3), 42);
        assert_eq!(back.kind, "back_in_stock");
        assert_eq!(back.title, "Limited tee is back in stock");
        assert_eq!(
            back.body,
            "3 units available now. Reserve yours before they go."
        );
        assert_eq!(
            (back.url.as_str(), back.tag.as_str()),
            ("/p/tee", "back_in_stock:tee")
        );
        assert_eq!((back.available, back.at_ms), (3, 42));
        let gone = Notification::for_job(&job(PushKind::BackInStock, None), &product(0), 42);
        assert!(gone.body.contains("taken again"), "{}", gone.body);
        let hold =
            Notification::for_job(&job(PushKind::HoldExpiring, Some(180_000)), &product(0), 0);
        assert_eq!(hold.title, "Your hold on Limited tee is about to expire");
        assert!(hold.body.contains("in about 3 minutes"), "{}", hold.body);
    }

    #[test]
    fn a_hold_push_lives_until_the_hold_does() {
        let hold = |deadline| ttl(&job(PushKind::HoldExpiring, deadline), 10_000);
        assert_eq!(hold(Some(70_500)), Some(Duration::from_secs(61)));
        assert_eq!(hold(Some(10_400)), Some(MIN_TTL));
        assert_eq!(hold(Some(9_000)), None, "the hold is over");
        assert_eq!(hold(None), Some(Duration::from_secs(50)));
        assert_eq!(urgency(PushKind::BackInStock), Urgency::Normal);
        assert_eq!(urgency(PushKind::HoldExpiring), Urgency::High);
    }

    #[test]
    fn a_push_is_kept_only_for_what_is_left_of_its_time() {
        let mut opens = job(PushKind::SaleOpens, None);
        opens.notice = "1000000".to_owned();
        opens.enqueued_at_ms = 1_000_500;
        assert_eq!(ttl(&opens, 1_000_000), Some(SALE_OPENS_TTL));
        // Counted from the sale's start, not from when it was enqueued.
        assert_eq!(ttl(&opens, 1_600_000), Some(Duration::from_secs(3000)));
        assert_eq!(ttl(&opens, 1_000_000 + 3_599_900), Some(MIN_TTL));
        assert_eq!(ttl(&opens, 1_000_000 + 3_600_000), None);
        opens.notice = "not a time".to_owned();
        assert_eq!(ttl(&opens, 1_000_500), Some(SALE_OPENS_TTL));
        let mut back = job(PushKind::BackInStock, None);
        back.enqueued_at_ms = 50_000;
        assert_eq!(ttl(&back, 50_000), Some(BACK_IN_STOCK_TTL));
        assert_eq!(ttl(&back, 110_000), Some(Duration::from_secs(840)));
        assert_eq!(ttl(&back, 50_000 + 900_000), None);
        assert_eq!(good_until_ms(&back), 950_000);
    }

    #[test]
    fn a_topic_is_32_base64url_characters_per_kind_and_product() {
        let sku = Sku::new("X".repeat(64)).unwrap();
        let opens = topic(PushKind::SaleOpens, &sku);
        assert_eq!(opens.len(), 32);
        assert!(
            opens
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(opens, topic(PushKind::SaleOpens, &sku));
        assert_ne!(opens, topic(PushKind::BackInStock, &sku));
    }

    #[test]
    fn time_left_is_told_in_whole_minutes() {
        assert_eq!(time_left(Some(30_000), 0), "in less than a minute");
        assert_eq!(time_left(Some(90_000), 0), "in about a minute");
        assert_eq!(time_left(Some(300_000), 0), "in about 5 minutes");
        assert_eq!(time_left(None, 0), "soon");
    }
}
