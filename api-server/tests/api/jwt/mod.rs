//! A shop that signs its shoppers' sessions as JWTs names them to the engine
//! with those tokens: HS256 with a secret it shares, RS256 or ES256 with the
//! public keys of a JWKS file. Forged, expired, misdirected and unsigned
//! (`alg: none`) tokens name nobody, and neither does an HS256 token keyed
//! with the shop's RSA public key. A JWKS file is taken again when its
//! contents change, and `--jwt-jwks-refresh` is never zero.
//!
//! The keys under `tests/fixtures/jwt/` were made for these specs alone.
//! The verifier's refusals are in `tokens.rs`, the JWKS file's life in
//! `keys.rs`, and JWTs over HTTP and Socket.IO in `served.rs`; the shop's
//! side of a token (its keys, its claims) is here.

mod keys;
mod served;
mod tokens;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use api_server::identity::{JwtError, JwtSetupError, Unidentified};
use api_server::testing::{ServerOptions, TestServer};
use api_server::{CustomerTokens, Identity, JwtOptions, ShopJwts, ShopTokens};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flashsale_benches::socket::{ACK_LIMIT, Received, SocketClient, SocketError};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::reserve_one_tee;

pub const HS256_SECRET: &[u8] = b"the shop's JWT secret";
pub const AUDIENCE: &str = "flash-sale";
pub const ISSUER: &str = "https://shop.example";

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt")).join(name)
}

pub fn options() -> JwtOptions {
    JwtOptions {
        hs256_secret: Some(HS256_SECRET.to_vec()),
        jwks_file: Some(fixture("jwks.json")),
        audiences: vec![AUDIENCE.to_owned()],
        issuers: vec![ISSUER.to_owned()],
        leeway: Duration::from_secs(30),
    }
}

pub fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The claims a shop's session token carries, valid for an hour.
pub fn session(sub: &str) -> Value {
    json!({"sub": sub, "exp": now_s() + 3_600, "aud": AUDIENCE, "iss": ISSUER, "iat": now_s()})
}

/// A token the shop signs with `algorithm`'s key, under key id `kid`.
pub fn signed(algorithm: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let pem = |name| std::fs::read(fixture(name)).unwrap();
    let key = match algorithm {
        Algorithm::HS256 => EncodingKey::from_secret(HS256_SECRET).unwrap(),
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem("rsa.pem")).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem("ec.pem")).unwrap(),
        other => panic!("the shop has no {other:?} key"),
    };
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

pub fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

pub fn refusal(jwts: &ShopJwts, token: &str) -> Unidentified {
    jwts.verify(token, now_s() * 1000)
        .expect_err("the token names nobody")
}
