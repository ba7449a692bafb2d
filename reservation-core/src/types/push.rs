//! A browser's push subscription (`PushSubscription.toJSON()`: its endpoint
//! and its keys), checked when it is built, and its id. A value of
//! [`PushSubscription`] is one the workers can encrypt to and post to: an
//! https URL (or http to loopback, when the policy allows), a P-256 point
//! and a 16-byte secret.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::invalid;
use super::push_services::{EndpointPolicy, PushServices, check_push_service};
use crate::error::{Error, Result};

/// A browser's push subscription, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushSubscription {
    endpoint: String,
    /// Base64url, unpadded: the browser's uncompressed P-256 public key.
    p256dh: String,
    /// Base64url, unpadded: the 16-byte authentication secret.
    auth: String,
    origin: String,
}

impl PushSubscription {
    /// Longest endpoint accepted, in characters. Real push services' are
    /// about 200 to 500; the bound keeps a stored interest small.
    pub const MAX_ENDPOINT_LEN: usize = 1024;

    /// https to one of the policy's push services, named by host (never an
    /// IP address), on the port it is listed with (443 unless it says);
    /// plain http only to a loopback host when the policy allows (whatever
    /// the push services). At most [`Self::MAX_ENDPOINT_LEN`] characters, no
    /// userinfo or fragment; `p256dh`: base64url (padding tolerated) of a 65-byte uncompressed
    /// point on P-256 (0x04 prefix); `auth`: base64url of 16 bytes. The
    /// error names the field.
    pub fn new(endpoint: &str, p256dh: &str, auth: &str, policy: EndpointPolicy) -> Result<Self> {
        let origin = check_endpoint(
            endpoint,
            policy.allow_http_loopback,
            Some(policy.push_services),
        )?;
        Self::with_keys(endpoint, p256dh, auth, origin)
    }

    fn with_keys(endpoint: &str, p256dh: &str, auth: &str, origin: String) -> Result<Self> {
        let p256dh_bytes = decode_base64url("p256dh", p256dh)?;
        if p256dh_bytes.len() != 65 {
            return Err(invalid(
                "p256dh",
                format!(
                    "must be a 65-byte uncompressed P-256 public key, got {} bytes",
                    p256dh_bytes.len()
                ),
            ));
        }
        if p256dh_bytes[0] != 0x04 {
            return Err(invalid(
                "p256dh",
                "must be an uncompressed P-256 point (first byte 0x04)",
            ));
        }
        // A point off the curve could never be encrypted to: refuse it now
        // rather than fail every push later.
        if p256::PublicKey::from_sec1_bytes(&p256dh_bytes).is_err() {
            return Err(invalid("p256dh", "is not a point on the P-256 curve"));
        }
        let auth_bytes = decode_base64url("auth", auth)?;
        if auth_bytes.len() != 16 {
            return Err(invalid(
                "auth",
                format!("must be a 16-byte secret, got {} bytes", auth_bytes.len()),
            ));
        }
        Ok(Self {
            endpoint: endpoint.to_owned(),
            p256dh: Base64UrlUnpadded::encode_string(&p256dh_bytes),
            auth: Base64UrlUnpadded::encode_string(&auth_bytes),
            origin,
        })
    }

    /// A subscription read back from Redis: checked again, with loopback
    /// http allowed and any host (the api-server that stored it checked it
    /// against its push services then; the workers do not know that list).
    pub(crate) fn stored(endpoint: &str, p256dh: &str, auth: &str) -> Result<Self> {
        let origin = check_endpoint(endpoint, true, None)?;
        Self::with_keys(endpoint, p256dh, auth, origin)
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Base64url without padding.
    pub fn p256dh(&self) -> &str {
        &self.p256dh
    }

    /// Base64url without padding.
    pub fn auth(&self) -> &str {
        &self.auth
    }

    pub fn id(&self) -> SubscriptionId {
        SubscriptionId::of_endpoint(&self.endpoint)
    }

    /// `scheme://host[:port]` of the endpoint: the VAPID audience, and what
    /// the workers rate-limit by.
    pub fn origin(&self) -> String {
        self.origin.clone()
    }
}

/// Checks an endpoint; returns its origin. `services`: the hosts an https
/// endpoint may name; None: any host (a stored subscription).
fn check_endpoint(
    endpoint: &str,
    allow_http_loopback: bool,
    services: Option<PushServices>,
) -> Result<String> {
    let field = "endpoint";
    if endpoint.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if endpoint.chars().count() > PushSubscription::MAX_ENDPOINT_LEN {
        return Err(invalid(
            field,
            format!(
                "must be at most {} characters, got {}",
                PushSubscription::MAX_ENDPOINT_LEN,
                endpoint.chars().count()
            ),
        ));
    }
    // The parser would quietly trim or drop these; the id is the text as
    // sent, so it must be the URL as parsed.
    if endpoint
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            field,
            "must not contain spaces or control characters",
        ));
    }
    let url =
        url::Url::parse(endpoint).map_err(|e| invalid(field, format!("is not a URL: {e}")))?;
    let host = url
        .host()
        .ok_or_else(|| invalid(field, "must name a host"))?;
    let https = match url.scheme() {
        "https" => true,
        "http" if allow_http_loopback && is_loopback(&host) => false,
        "http" if allow_http_loopback => {
            return Err(invalid(
                field,
                "must be https (http only to a loopback host)",
            ));
        }
        _ => return Err(invalid(field, "must be an https URL")),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(field, "must not carry a user name or password"));
    }
    if url.fragment().is_some() {
        return Err(invalid(field, "must not have a fragment (#...)"));
    }
    if https && let Some(services) = services {
        check_push_service(&url, &host, services)?;
    }
    Ok(url.origin().ascii_serialization())
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        url::Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

/// Base64url, with or without `=` padding.
fn decode_base64url(field: &'static str, text: &str) -> Result<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text.trim_end_matches('='))
        .map_err(|_| invalid(field, "must be base64url (A-Z a-z 0-9 - _)"))
}

/// A subscription's id: the first 16 bytes of SHA-256 of its endpoint, as
/// base64url without padding (22 characters). The same endpoint has the
/// same id for every shopper and every product, so an unsubscribe or a
/// `410 Gone` finds it from the endpoint alone.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SubscriptionId(String);

impl SubscriptionId {
    pub const LEN: usize = 22;

    pub fn of_endpoint(endpoint: &str) -> Self {
        let digest = Sha256::digest(endpoint.as_bytes());
        Self(Base64UrlUnpadded::encode_string(&digest[..16]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks `text` is 22 base64url characters that decode to 16 bytes.
    pub fn parse(text: &str) -> Result<Self> {
        let decoded = Base64UrlUnpadded::decode_vec(text).ok();
        if text.len() != Self::LEN || decoded.is_none_or(|bytes| bytes.len() != 16) {
            return Err(invalid(
                "subscription_id",
                "must be 22 base64url characters",
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

impl FromStr for SubscriptionId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SubscriptionId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::PushServiceHost;

    #[test]
    fn an_id_is_22_base64url_characters_of_the_endpoints_digest() {
        let id = SubscriptionId::of_endpoint("https://push.example/abc");
        assert_eq!(id.as_str().len(), 22);
        assert_eq!(id, SubscriptionId::of_endpoint("https://push.example/abc"));
        assert_ne!(id, SubscriptionId::of_endpoint("https://push.example/abd"));
        assert_eq!(id.as_str().parse::<SubscriptionId>().unwrap(), id);
        assert!(SubscriptionId::parse("short").is_err());
        assert!(SubscriptionId::parse(&"*".repeat(22)).is_err());
    }

    #[test]
    fn the_origin_keeps_a_port_that_is_not_the_default() {
        let browsers = Some(PushServices::BROWSERS);
        assert_eq!(
            check_endpoint("https://fcm.googleapis.com/fcm/send/x", false, browsers).unwrap(),
            "https://fcm.googleapis.com"
        );
        const LISTED: PushServices =
            PushServices::new(&[PushServiceHost::exact("push.example").with_port(8443)]);
        assert_eq!(
            check_endpoint("https://push.example:8443/x", false, Some(LISTED)).unwrap(),
            "https://push.example:8443"
        );
        assert_eq!(
            check_endpoint("http://[::1]:9000/x", true, browsers).unwrap(),
            "http://[::1]:9000"
        );
    }
}
