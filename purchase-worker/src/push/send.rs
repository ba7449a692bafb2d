//! Sends one push to a browser's push service, the Web Push way: the payload
//! encrypted to the subscription's keys (RFC 8291, `aes128gcm`, by the
//! `web-push-native` crate), the request signed by the deployment's VAPID
//! key (RFC 8292: `Authorization: vapid t=JWT, k=PUBLIC_KEY`, an ES256 JWT
//! made with jsonwebtoken and kept per origin for hours), with the `TTL`,
//! `Urgency` and `Topic` headers of RFC 8030, posted with reqwest like the
//! webhooks.
//!
//! The answer is sorted into what the caller does next ([`PushOutcome`]):
//! delivered; gone (`404`/`410`: the browser dropped the subscription);
//! retry after (`429`, `5xx`, with the service's `Retry-After`); rejected
//! (another `4xx`: this push will never be accepted); failed (no answer).
//! A `429` or a `503` with `Retry-After` also pauses the whole origin
//! ([`Origins`]), since it speaks of the service, not of one subscription;
//! a push to a paused origin is not sent and comes back paused at once
//! (never waiting for the pause, which may last an hour, in its caller's
//! send slot).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use reqwest::header::{HeaderName, HeaderValue, RETRY_AFTER};
use reservation_core::{PushSubscription, VapidKey};
use serde::Serialize;
use web_push_native::p256::pkcs8::EncodePrivateKey;
use web_push_native::{Auth, WebPushBuilder, p256};

use super::origins::{DEFAULT_THROTTLE_PAUSE, MAX_PAUSE, Origins};
use crate::webhook::{causes, reason_of};

/// How long a VAPID JWT is valid. RFC 8292 allows up to 24 hours; half of
/// that leaves room for a clock running ahead of the push service's.
const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// A JWT is made again this long before it expires, so none is ever sent
/// that expires on its way.
const TOKEN_MARGIN: Duration = Duration::from_secs(60 * 60);
/// Origins whose JWT is kept; past that the cache starts afresh (endpoints
/// come from browsers, so origins are not a fixed list).
const MAX_TOKENS: usize = 1024;

/// How eagerly the push service should wake the device (RFC 8030 5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Urgency {
    VeryLow,
    Low,
    Normal,
    High,
}

impl Urgency {
    /// The `Urgency` header's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VeryLow => "very-low",
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
        }
    }
}

/// One push: the payload (plain; it is encrypted here) and how the push
/// service should treat it.
#[derive(Clone, Copy, Debug)]
pub struct Push<'a> {
    pub subscription: &'a PushSubscription,
    pub payload: &'a [u8],
    /// How long the push service keeps it for a browser that is offline.
    pub ttl: Duration,
    pub urgency: Urgency,
    /// Replaces a push of the same topic still queued at the service: at
    /// most 32 base64url characters.
    pub topic: Option<&'a str>,
}

/// What became of a push, and so what to do with its job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// A 2xx: the push service took it (`201 Created` usually).
    Delivered,
    /// `404` or `410`: the subscription is no more; remove it.
    Gone(u16),
    /// `429` or a `5xx`: try again, not before `after` (the service's
    /// `Retry-After`, at most an hour; zero when it gave none, and the
    /// caller's backoff decides).
    RetryAfter { status: u16, after: Duration },
    /// Another `4xx` (`400`, `401`, `403`, `413`…): this push will never be
    /// accepted. Status 0 when it was not even sent (the subscription's key
    /// or the payload could not be encrypted), with why.
    Rejected { status: u16, body: String },
    /// No answer (no connection, a timeout) or one that makes no sense for
    /// a push (a redirect): try again with backoff.
    Failed(String),
    /// Not sent: the origin asked to be left alone until `until` (another
    /// push's `429`/`503`). Not a try of this push: it waits until then.
    Paused { until: Instant },
}

/// Why a sender cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{0}")]
    Subject(String),
    #[error("the VAPID key cannot sign: {0}")]
    Key(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Sends pushes for one deployment (one VAPID key) to any push service.
pub struct PushSender {
    client: reqwest::Client,
    key: EncodingKey,
    /// The `k=` of the Authorization header: the uncompressed public point,
    /// base64url, as the browser was given it (`applicationServerKey`).
    public_key: String,
    subject: String,
    origins: Origins,
    tokens: Mutex<HashMap<String, Token>>,
}

/// The claims of a VAPID JWT (RFC 8292 section 2).
#[derive(Serialize)]
struct Claims<'a> {
    /// The push service's origin.
    aud: &'a str,
    /// Seconds since the epoch.
    exp: u64,
    /// How the push service reaches the shop.
    sub: &'a str,
}

/// A signed `Authorization` value for one origin, and when to make another.
struct Token {
    header: HeaderValue,
    renew_at: Instant,
}

impl PushSender {
    /// `subject`: the VAPID `sub` claim, how the push service reaches the
    /// shop (`mailto:` or `https:` URL). `timeout`: longest a push may take,
    /// connecting included. `per_origin`: pushes a second to one origin.
    pub fn new(
        key: &VapidKey,
        subject: &str,
        timeout: Duration,
        per_origin: NonZeroU32,
    ) -> Result<Self, PushError> {
        super::check_subject(subject).map_err(PushError::Subject)?;
        let public_key = key.public_key_base64url();
        // jsonwebtoken takes EC keys as PKCS#8.
        let der = p256::SecretKey::from_slice(&key.private_bytes())
            .map_err(|e| PushError::Key(e.to_string()))?
            .to_pkcs8_der()
            .map_err(|e| PushError::Key(e.to_string()))?;
        let key = EncodingKey::from_ec_der(der.as_bytes());
        let client = reqwest::Client::builder()
            .timeout(timeout)
            // A push service answers for itself; following a redirect would
            // carry the signed request somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("flash-sale/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PushError::Client(e.to_string()))?;
        Ok(Self {
            client,
            key,
            public_key,
            subject: subject.to_owned(),
            origins: Origins::new(per_origin),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// Waits for the origin's rate to allow a push, then encrypts, signs,
    /// posts, and sorts the answer. Never waits through a pause: while the
    /// origin is paused (before or during the wait) it answers
    /// [`PushOutcome::Paused`] at once, nothing sent. A caller with pushes
    /// for many origins should rather take a [`Self::permit`] before it
    /// gives a push a task, and then [`Self::send_permitted`].
    pub async fn send(&self, push: &Push<'_>) -> PushOutcome {
        let origin = push.subscription.origin();
        if let Err(until) = self.origins.rate(&origin).await {
            return PushOutcome::Paused { until };
        }
        self.post(push, origin).await
    }

    /// Whether a push may go to `origin` (`scheme://host[:port]`) now: its
    /// rate allows one (which this counts) and it is not paused; otherwise
    /// when to ask again. Never waits.
    pub fn permit(&self, origin: &str) -> Result<(), Instant> {
        self.origins.permit(origin)
    }

    /// Sends a push whose [`Self::permit`] was taken: no rate wait. Still
    /// [`PushOutcome::Paused`] if the origin was paused since, by another
    /// push's answer.
    pub async fn send_permitted(&self, push: &Push<'_>) -> PushOutcome {
        let origin = push.subscription.origin();
        if let Some(until) = self.origins.paused_until(&origin) {
            return PushOutcome::Paused { until };
        }
        self.post(push, origin).await
    }

    async fn post(&self, push: &Push<'_>, origin: String) -> PushOutcome {
        let request = match self.request(push, &origin) {
            Ok(request) => request,
            Err(why) => {
                return PushOutcome::Rejected {
                    status: 0,
                    body: why,
                };
            }
        };
        let response = match self.client.execute(request).await {
            Ok(response) => response,
            Err(e) if e.is_timeout() => {
                return PushOutcome::Failed(format!("no answer: {}", causes(e)));
            }
            Err(e) => return PushOutcome::Failed(format!("cannot deliver: {}", causes(e))),
        };
        let status = response.status();
        let after = retry_after(response.headers().get(RETRY_AFTER), SystemTime::now());
        // A pause speaks of the service: every subscription there waits.
        match (status, after) {
            (StatusCode::TOO_MANY_REQUESTS, None) => {
                self.origins.pause(&origin, DEFAULT_THROTTLE_PAUSE);
            }
            (StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE, Some(after)) => {
                self.origins.pause(&origin, after);
            }
            _ => {}
        }
        classify(status, after, response).await
    }

    /// When `origin` (`scheme://host[:port]`) asked to be left alone until,
    /// if it did and that is still ahead.
    pub fn paused_until(&self, origin: &str) -> Option<Instant> {
        self.origins.paused_until(origin)
    }

    /// The public key pushes are signed with, base64url: the browser must
    /// have subscribed with it.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The encrypted request, headers and all; why not when the
    /// subscription's keys or the payload cannot be encrypted.
    fn request(&self, push: &Push<'_>, origin: &str) -> Result<reqwest::Request, String> {
        let subscription = push.subscription;
        let endpoint = reqwest::Url::parse(subscription.endpoint())
            .ok()
            .and_then(|url| url.as_str().parse::<http::Uri>().ok())
            .ok_or("the endpoint is not a URL")?;
        let p256dh = Base64UrlUnpadded::decode_vec(subscription.p256dh())
            .ok()
            .and_then(|bytes| p256::PublicKey::from_sec1_bytes(&bytes).ok())
            .ok_or("the subscription's p256dh is not a P-256 point")?;
        let auth = Base64UrlUnpadded::decode_vec(subscription.auth())
            .ok()
            .filter(|bytes| bytes.len() == 16)
            .ok_or("the subscription's auth is not 16 bytes")?;
        // The builder encrypts and sets TTL, Content-Encoding: aes128gcm and
        // the lengths; VAPID is signed here, not by its `with_vapid`, whose
        // audience leaves out the endpoint's port and whose JWT is made anew
        // for every push.
        let built = WebPushBuilder::new(endpoint, p256dh, Auth::clone_from_slice(&auth))
            .with_valid_duration(push.ttl)
            .build(push.payload)
            .map_err(|e| format!("cannot encrypt the payload: {e}"))?;
        let mut request = reqwest::Request::try_from(built)
            .map_err(|e| format!("cannot make the request: {}", causes(e)))?;
        let headers = request.headers_mut();
        headers.insert(reqwest::header::AUTHORIZATION, self.authorization(origin)?);
        headers.insert(
            HeaderName::from_static("urgency"),
            HeaderValue::from_static(push.urgency.as_str()),
        );
        if let Some(topic) = push.topic {
            let topic =
                HeaderValue::from_str(topic).map_err(|_| "the topic is not a header value")?;
            headers.insert(HeaderName::from_static("topic"), topic);
        }
        Ok(request)
    }

    /// `vapid t=JWT, k=KEY` for `origin`: the JWT made for it lately, or a
    /// new one when that nears its expiry (signing every push would cost
    /// an ECDSA signature each, the one dear step of a push).
    fn authorization(&self, origin: &str) -> Result<HeaderValue, String> {
        let now = Instant::now();
        let mut tokens = self.tokens.lock().expect("the tokens' lock");
        if let Some(token) = tokens.get(origin).filter(|token| token.renew_at > now) {
            return Ok(token.header.clone());
        }
        let expires = SystemTime::now() + TOKEN_LIFETIME;
        let claims = Claims {
            aud: origin,
            exp: expires
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs()),
            sub: &self.subject,
        };
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &self.key)
            .map_err(|e| format!("cannot sign the VAPID JWT: {e}"))?;
        let header = HeaderValue::from_str(&format!("vapid t={jwt}, k={}", self.public_key))
            .map_err(|_| "the VAPID JWT is not a header value")?;
        if tokens.len() >= MAX_TOKENS {
            tokens.retain(|_, token| token.renew_at > now);
            if tokens.len() >= MAX_TOKENS {
                tokens.clear();
            }
        }
        tokens.insert(
            origin.to_owned(),
            Token {
                header: header.clone(),
                renew_at: now + (TOKEN_LIFETIME - TOKEN_MARGIN),
            },
        );
        Ok(header)
    }
}

/// Sorts a push service's answer.
async fn classify(
    status: StatusCode,
    after: Option<Duration>,
    response: reqwest::Response,
) -> PushOutcome {
    let code = status.as_u16();
    if status.is_success() {
        PushOutcome::Delivered
    } else if matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) {
        PushOutcome::Gone(code)
    } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        PushOutcome::RetryAfter {
            status: code,
            after: after.unwrap_or(Duration::ZERO),
        }
    } else if status.is_client_error() {
        PushOutcome::Rejected {
            status: code,
            body: reason_of(response).await,
        }
    } else {
        PushOutcome::Failed(format!("answered {status}, which no push service should"))
    }
}

/// A `Retry-After` value: delta-seconds or an HTTP date (RFC 9110 10.2.3),
/// at most [`MAX_PAUSE`]; a date already past is no wait at all.
fn retry_after(value: Option<&HeaderValue>, now: SystemTime) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    let after = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(text)
            .ok()?
            .duration_since(now)
            .unwrap_or(Duration::ZERO),
    };
    Some(after.min(MAX_PAUSE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).unwrap()
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(Some(&header("2")), now),
            Some(Duration::from_secs(2))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            retry_after(Some(&header(&date)), now),
            Some(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(retry_after(Some(&header(&past)), now), Some(Duration::ZERO));
        assert_eq!(
            retry_after(Some(&header("999999999")), now),
            Some(MAX_PAUSE)
        );
        assert_eq!(retry_after(Some(&header("soon")), now), None);
        assert_eq!(retry_after(None, now), None);
    }
}
