//! "Notify me": the shopper's web push subscriptions, and the deployment's
//! VAPID public key their browser subscribes with. The engine checks and
//! keeps each interest (one per product and browser endpoint); the purchase
//! workers send the pushes.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /api/push/vapid-public-key` | `{"public_key"}`, public and cacheable; 503 when push is off |
//! | `POST /api/products/{sku}/push-subscriptions` | `{"subscription": PushSubscription.toJSON(), "notify": [topics]}` |
//! | `DELETE /api/products/{sku}/push-subscriptions` | `{"endpoint"}`: 204, or 404 when there was none |
//! | `GET /api/push/subscriptions` | the shopper's interests, every product |

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::CACHE_CONTROL;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use reservation_core::{
    EndpointPolicy, Error, PushInterest, PushKind, PushSubscription, PushTopics, Sku,
    SubscriptionId,
};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::customer::Customer;
use crate::app::App;

/// The code of the answer to a key request when push is off.
const PUSH_UNAVAILABLE: &str = "PUSH_UNAVAILABLE";

/// How this node takes push subscriptions.
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// The deployment's VAPID public key (the uncompressed point, base64url),
    /// the browser's `applicationServerKey`. None: push is off; asking for
    /// the key or subscribing is answered 503, so a page leaves "Notify me"
    /// out.
    pub vapid_public_key: Option<String>,
    /// Most interests (product × browser endpoint) one shopper holds.
    pub max_per_shopper: u32,
    /// Which endpoints are taken: https to the deployment's push services
    /// (the browsers' by default), and plain http on a loopback host when
    /// it says so (a mock push service in tests and local development,
    /// never in production).
    pub endpoints: EndpointPolicy,
}

impl Default for PushOptions {
    fn default() -> Self {
        Self {
            vapid_public_key: None,
            max_per_shopper: 20,
            endpoints: EndpointPolicy::default(),
        }
    }
}

impl PushOptions {
    fn public_key(&self) -> Result<&str, ApiError> {
        self.vapid_public_key.as_deref().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                PUSH_UNAVAILABLE,
                "web push is off: this server has no VAPID key configured",
            )
        })
    }
}

/// The routes, with `options` beside them (no other handler needs them).
pub fn api(options: PushOptions) -> Router<App> {
    Router::new()
        .route("/api/push/vapid-public-key", get(vapid_public_key))
        .route("/api/push/subscriptions", get(list))
        .route(
            "/api/products/{sku}/push-subscriptions",
            post(subscribe).delete(unsubscribe),
        )
        .layer(Extension(Arc::new(options)))
}

type Options = Extension<Arc<PushOptions>>;

#[derive(Serialize)]
struct PublicKey {
    public_key: String,
}

/// Public: the page asks before anyone is signed in. Cacheable for an hour:
/// the key changes only when the deployment rotates it, which leaves the
/// subscriptions made with the old one unusable anyway.
async fn vapid_public_key(Extension(options): Options) -> Result<impl IntoResponse, ApiError> {
    let public_key = options.public_key()?.to_owned();
    Ok((
        [(CACHE_CONTROL, "public, max-age=3600")],
        Json(PublicKey { public_key }),
    ))
}

/// The body as the page sends it: the browser's `PushSubscription.toJSON()`
/// untouched. Every part is optional here so that a missing one is refused
/// with its field's name, like a malformed one, not with serde's wording.
#[derive(Deserialize)]
struct SubscribeBody {
    subscription: Option<BrowserSubscription>,
    notify: Option<Vec<String>>,
}

/// `expirationTime` (and anything else the browser adds) is ignored: push
/// services hardly ever set it, and an expired subscription shows itself as
/// a 404 or 410 when a push is sent, which removes it.
#[derive(Deserialize)]
struct BrowserSubscription {
    endpoint: Option<String>,
    keys: Option<BrowserKeys>,
}

#[derive(Deserialize)]
struct BrowserKeys {
    p256dh: Option<String>,
    auth: Option<String>,
}

/// One interest, as the routes answer it.
#[derive(Serialize)]
struct InterestJson {
    id: SubscriptionId,
    sku: Sku,
    endpoint: String,
    /// The topics, in a fixed order.
    notify: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at_ms: Option<i64>,
}

impl From<PushInterest> for InterestJson {
    fn from(interest: PushInterest) -> Self {
        Self {
            id: interest.subscription.id(),
            sku: interest.sku,
            endpoint: interest.subscription.endpoint().to_owned(),
            notify: topic_names(interest.topics),
            created_at_ms: Some(interest.created_at_ms),
        }
    }
}

async fn subscribe(
    State(app): State<App>,
    Extension(options): Options,
    Customer(customer): Customer,
    Path(sku): Path<String>,
    body: Result<Json<SubscribeBody>, JsonRejection>,
) -> Result<(StatusCode, Json<InterestJson>), ApiError> {
    // A subscription nobody can push to is refused rather than kept: without
    // the key no browser could have made it for this deployment.
    options.public_key()?;
    let Json(body) = body?;
    let sku = Sku::new(sku)?;
    let subscription = checked(body.subscription, options.endpoints)?;
    let topics = topics(&body.notify.ok_or_else(|| missing("notify"))?)?;
    let id = app
        .call(
            "subscribe_push",
            app.engine.subscribe_push(
                &customer,
                &sku,
                &subscription,
                topics,
                options.max_per_shopper,
            ),
        )
        .await?;
    let interest = InterestJson {
        id,
        sku,
        endpoint: subscription.endpoint().to_owned(),
        notify: topic_names(topics),
        created_at_ms: None,
    };
    Ok((StatusCode::CREATED, Json(interest)))
}

#[derive(Deserialize)]
struct UnsubscribeBody {
    endpoint: Option<String>,
}

/// Only the shopper's own interest: another shopper's endpoint is answered
/// 404 like one never subscribed, and stays.
async fn unsubscribe(
    State(app): State<App>,
    Customer(customer): Customer,
    Path(sku): Path<String>,
    body: Result<Json<UnsubscribeBody>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(body) = body?;
    let sku = Sku::new(sku)?;
    // The endpoint is not checked: one this server would refuse now (its
    // settings changed) may still be stored, and must be removable.
    let endpoint = body.endpoint.ok_or_else(|| missing("endpoint"))?;
    let id = SubscriptionId::of_endpoint(&endpoint);
    let removed = app
        .call(
            "unsubscribe_push",
            app.engine.unsubscribe_push(&customer, &sku, &id),
        )
        .await?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("you have no push subscription to {sku} with that endpoint"),
        ))
    }
}

async fn list(
    State(app): State<App>,
    Customer(customer): Customer,
) -> Result<impl IntoResponse, ApiError> {
    let interests = app
        .call(
            "push_subscriptions",
            app.engine.push_interests_of(&customer),
        )
        .await?;
    let answer: Vec<InterestJson> = interests.into_iter().map(InterestJson::from).collect();
    Ok(Json(answer))
}

/// The browser's subscription as the engine takes it, each part checked.
fn checked(
    subscription: Option<BrowserSubscription>,
    policy: EndpointPolicy,
) -> Result<PushSubscription, ApiError> {
    let subscription = subscription.ok_or_else(|| missing("subscription"))?;
    let endpoint = subscription
        .endpoint
        .ok_or_else(|| missing("subscription.endpoint"))?;
    let keys = subscription
        .keys
        .ok_or_else(|| missing("subscription.keys"))?;
    let p256dh = keys
        .p256dh
        .ok_or_else(|| missing("subscription.keys.p256dh"))?;
    let auth = keys.auth.ok_or_else(|| missing("subscription.keys.auth"))?;
    Ok(PushSubscription::new(&endpoint, &p256dh, &auth, policy).map_err(as_body_field)?)
}

fn missing(field: &'static str) -> ApiError {
    Error::InvalidArgument {
        field,
        reason: "is missing".into(),
    }
    .into()
}

/// The engine names a subscription's parts by themselves; the client sent
/// them nested in the browser's JSON, so the refusal names them there.
fn as_body_field(err: Error) -> Error {
    match err {
        Error::InvalidArgument { field, reason } => Error::InvalidArgument {
            field: match field {
                "endpoint" => "subscription.endpoint",
                "p256dh" => "subscription.keys.p256dh",
                "auth" => "subscription.keys.auth",
                other => other,
            },
            reason,
        },
        other => other,
    }
}

/// The topics asked for; an unknown one is refused naming `notify`. An
/// empty list is the engine's to refuse.
fn topics(names: &[String]) -> Result<PushTopics, Error> {
    let mut topics = PushTopics::default();
    for name in names {
        match name.parse::<PushKind>()? {
            PushKind::SaleOpens => topics.sale_opens = true,
            PushKind::BackInStock => topics.back_in_stock = true,
            PushKind::HoldExpiring => topics.hold_expiring = true,
        }
    }
    Ok(topics)
}

fn topic_names(topics: PushTopics) -> Vec<&'static str> {
    topics.kinds().into_iter().map(PushKind::as_str).collect()
}
