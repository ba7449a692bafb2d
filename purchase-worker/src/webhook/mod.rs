//! Webhooks the Standard Webhooks way: every request is a JSON envelope
//! `{"type", "timestamp", "data"}` signed with the shop's `whsec_…` secret
//! in the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers
//! (`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`), so a shop
//! verifies them with the specification's own libraries, in any language.
//!
//! [`WebhookSender`] is what the purchase step ([`purchase`]), the event
//! deliveries ([`events`]) and the availability announcements
//! ([`availability`]) send with: it
//! signs, posts within a timeout, and sorts the answer into accepted,
//! refused (a 4xx that means no) or failed (anything else, worth trying
//! again).

pub mod availability;
pub mod events;
pub mod purchase;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde::Serialize;

/// Where a webhook goes and how it is signed.
#[derive(Clone)]
pub struct WebhookEndpoint {
    pub url: String,
    /// `whsec_` and the base64 of the key, as Standard Webhooks writes it.
    pub secret: String,
    /// Longest a delivery may take, connecting included.
    pub timeout: Duration,
}

/// The secret never shows, in logs or anywhere else.
impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why a webhook endpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebhookSetupError {
    #[error("the webhook URL {url:?} is not an http(s) URL: {reason}")]
    Url { url: String, reason: String },
    #[error("the webhook secret is not a Standard Webhooks secret (whsec_ and base64): {0}")]
    Secret(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// What the endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A 2xx.
    Accepted,
    /// A 4xx that means no: 402, 409, 410 or 422, with what the body said.
    Refused { status: u16, reason: String },
    /// Anything else: another status (a redirect included), a timeout, no
    /// connection.
    Failed(String),
}

/// The 4xx answers that mean "no" rather than "this request was wrong":
/// payment required (declined), conflict, gone, unprocessable.
const REFUSALS: [StatusCode; 4] = [
    StatusCode::PAYMENT_REQUIRED,
    StatusCode::CONFLICT,
    StatusCode::GONE,
    StatusCode::UNPROCESSABLE_ENTITY,
];

/// Most of an answer's body kept as its reason.
const REASON_BYTES: usize = 500;

/// Signs and posts webhooks to one endpoint.
pub struct WebhookSender {
    client: reqwest::Client,
    url: reqwest::Url,
    signer: standardwebhooks::Webhook,
}

#[derive(Serialize)]
struct Envelope<'a, T> {
    r#type: &'a str,
    timestamp: String,
    data: &'a T,
}

impl WebhookSender {
    pub fn new(endpoint: &WebhookEndpoint) -> Result<Self, WebhookSetupError> {
        let url_error = |reason: String| WebhookSetupError::Url {
            url: endpoint.url.clone(),
            reason,
        };
        let url = reqwest::Url::parse(&endpoint.url).map_err(|e| url_error(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(url_error(format!("the scheme is {}", url.scheme())));
        }
        let Some(key) = endpoint.secret.strip_prefix("whsec_") else {
            return Err(WebhookSetupError::Secret(
                "it does not start with whsec_".into(),
            ));
        };
        // Standard Webhooks asks for keys of 24 to 64 bytes: 32 base64
        // characters or more.
        if key.trim_end_matches('=').len() < 32 {
            return Err(WebhookSetupError::Secret(
                "its key is shorter than 24 bytes".into(),
            ));
        }
        let signer = standardwebhooks::Webhook::new(&endpoint.secret)
            .map_err(|e| WebhookSetupError::Secret(e.to_string()))?;
        let client = reqwest::Client::builder()
            .timeout(endpoint.timeout)
            // A redirect would turn the POST into a GET without its body, and
            // carry the signed headers elsewhere: the endpoint must answer
            // itself.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("flash-sale/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| WebhookSetupError::Client(e.to_string()))?;
        Ok(Self {
            client,
            url,
            signer,
        })
    }

    /// Posts `data` as an event of `event_type` whose id, the receiver's
    /// idempotency key, is `id`.
    pub async fn send<T: Serialize>(&self, id: &str, event_type: &str, data: &T) -> Answer {
        let now = SystemTime::now();
        let body = match serde_json::to_vec(&Envelope {
            r#type: event_type,
            timestamp: humantime::format_rfc3339_millis(now).to_string(),
            data,
        }) {
            Ok(body) => body,
            Err(e) => return Answer::Failed(format!("cannot encode the event: {e}")),
        };
        let timestamp = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs() as i64);
        let signature = match self.signer.sign(id, timestamp, &body) {
            Ok(signature) => signature,
            Err(e) => return Answer::Failed(format!("cannot sign the event: {e}")),
        };
        let sent = self
            .client
            .post(self.url.clone())
            .header(standardwebhooks::HEADER_WEBHOOK_ID, id)
            .header(standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, timestamp)
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) if e.is_timeout() => return Answer::Failed(format!("no answer: {}", causes(e))),
            Err(e) => return Answer::Failed(format!("cannot deliver: {}", causes(e))),
        };
        let status = response.status();
        if status.is_success() {
            return Answer::Accepted;
        }
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|location| location.to_str().ok())
                .unwrap_or("nowhere")
                .to_owned();
            return Answer::Failed(format!(
                "answered {status}, redirecting to {to}: webhooks are not redirected"
            ));
        }
        let reason = reason_of(response).await;
        if REFUSALS.contains(&status) {
            Answer::Refused {
                status: status.as_u16(),
                reason,
            }
        } else {
            Answer::Failed(format!("answered {status}: {reason}"))
        }
    }
}

/// The shop's event endpoints: every event goes to each of them.
pub struct EventEndpoints {
    senders: Vec<(String, WebhookSender)>,
}

impl EventEndpoints {
    pub fn new(endpoints: &[WebhookEndpoint]) -> Result<Self, WebhookSetupError> {
        let senders = endpoints
            .iter()
            .map(|endpoint| {
                let sender = WebhookSender::new(endpoint)?;
                Ok((display_url(&sender.url), sender))
            })
            .collect::<Result<_, WebhookSetupError>>()?;
        Ok(Self { senders })
    }

    /// Every endpoint, by its index: who an event still has to reach.
    pub fn all(&self) -> Vec<usize> {
        (0..self.senders.len()).collect()
    }

    /// The endpoint's scheme, host and path: how logs, dead letters and
    /// availability records name it.
    pub fn url(&self, endpoint: usize) -> &str {
        &self.senders[endpoint].0
    }

    /// Sends the event to the endpoints in `pending`, concurrently, and
    /// keeps there only those that did not accept it. Returns why each of
    /// them did not.
    pub async fn send<T: Serialize + Sync>(
        &self,
        id: &str,
        event_type: &str,
        data: &T,
        pending: &mut Vec<usize>,
    ) -> Vec<(usize, String)> {
        let answers = futures_util::future::join_all(pending.iter().map(|&endpoint| async move {
            (
                endpoint,
                self.senders[endpoint].1.send(id, event_type, data).await,
            )
        }))
        .await;
        let mut failures = Vec::new();
        for (endpoint, answer) in answers {
            match answer {
                Answer::Accepted => {}
                Answer::Refused { status, reason } => {
                    failures.push((endpoint, format!("answered {status}: {reason}")));
                }
                Answer::Failed(reason) => failures.push((endpoint, reason)),
            }
        }
        pending.retain(|endpoint| failures.iter().any(|(failed, _)| failed == endpoint));
        failures
    }
}

/// The start of an answer's body, as text; reading stops there, and a body
/// that breaks off keeps what came.
pub(crate) async fn reason_of(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < REASON_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    let mut reason = String::from_utf8_lossy(&body[..body.len().min(REASON_BYTES)]).into_owned();
    reason.truncate(reason.trim_end().len());
    reason
}

/// A delivery error with its causes (refused, DNS, TLS), which its own
/// message leaves out, and without its URL, which may hold a token.
pub(crate) fn causes(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An endpoint as logs and dead letters name it: its scheme, host and path,
/// never a user, password or query that may hold a token.
fn display_url(url: &reqwest::Url) -> String {
    let port = url
        .port()
        .map(|port| format!(":{port}"))
        .unwrap_or_default();
    format!(
        "{}://{}{port}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.path()
    )
}
