//! A shop that signs its shoppers' sessions as JWTs names them to the engine
//! with those tokens: HS256 with a secret it shares, RS256 or ES256 with the
//! public keys of a JWKS file. Forged, expired, misdirected and unsigned
//! (`alg: none`) tokens name nobody, and neither does an HS256 token keyed
//! with the shop's RSA public key. A JWKS file is taken again when its
//! contents change, and `--jwt-jwks-refresh` is never zero.
//!
//! The keys under `tests/fixtures/jwt/` were made for these specs alone.

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

const HS256_SECRET: &[u8] = b"the shop's JWT secret";
const AUDIENCE: &str = "flash-sale";
const ISSUER: &str = "https://shop.example";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt")).join(name)
}

fn options() -> JwtOptions {
    JwtOptions {
        hs256_secret: Some(HS256_SECRET.to_vec()),
        jwks_file: Some(fixture("jwks.json")),
        audiences: vec![AUDIENCE.to_owned()],
        issuers: vec![ISSUER.to_owned()],
        leeway: Duration::from_secs(30),
    }
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The claims a shop's session token carries, valid for an hour.
fn session(sub: &str) -> Value {
    json!({"sub": sub, "exp": now_s() + 3_600, "aud": AUDIENCE, "iss": ISSUER, "iat": now_s()})
}

/// A token the shop signs with `algorithm`'s key, under key id `kid`.
fn signed(algorithm: Algorithm, kid: Option<&str>, claims: &Value) -> String {
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

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn refusal(jwts: &ShopJwts, token: &str) -> Unidentified {
    jwts.verify(token, now_s() * 1000)
        .expect_err("the token names nobody")
}

#[test]
fn each_of_the_shops_keys_names_the_shopper_its_sub_names() {
    let jwts = ShopJwts::load(options()).unwrap();
    let now_ms = now_s() * 1000;
    for token in [
        signed(Algorithm::HS256, None, &session("ann")),
        signed(Algorithm::RS256, Some("shop-rsa-1"), &session("ann")),
        signed(Algorithm::ES256, Some("shop-ec-1"), &session("ann")),
        // Without a key id, any key made for the algorithm may vouch.
        signed(Algorithm::ES256, None, &session("ann")),
    ] {
        assert_eq!(jwts.verify(&token, now_ms).unwrap().as_str(), "ann");
    }
}

#[test]
fn forged_expired_misdirected_and_unsigned_tokens_name_nobody() {
    let jwts = ShopJwts::load(options()).unwrap();
    let jwt_refusal = |token: &str| match refusal(&jwts, token) {
        Unidentified::Jwt(e) => e,
        other => panic!("refused for {other}, not as a JWT"),
    };
    let with = |changes: Value| {
        let mut claims = session("ann");
        for (name, value) in changes.as_object().unwrap() {
            match value {
                Value::Null => claims.as_object_mut().unwrap().remove(name),
                value => claims
                    .as_object_mut()
                    .unwrap()
                    .insert(name.clone(), value.clone()),
            };
        }
        signed(Algorithm::RS256, Some("shop-rsa-1"), &claims)
    };

    // Signed by a key the shop never published, under its key's id.
    let unpublished =
        EncodingKey::from_rsa_pem(&std::fs::read(fixture("unpublished-rsa.pem")).unwrap()).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("shop-rsa-1".into());
    let forged = jsonwebtoken::encode(&header, &session("ann"), &unpublished).unwrap();
    assert_eq!(jwt_refusal(&forged), JwtError::Signature);

    // Ann's token with Bob's name put in.
    let anns = with(json!({}));
    let parts: Vec<&str> = anns.split('.').collect();
    let bobs = format!("{}.{}.{}", parts[0], b64(&session("bob")), parts[2]);
    assert_eq!(jwt_refusal(&bobs), JwtError::Signature);

    // With a secret configured, an HS256 token keyed with anything else
    // fails its signature.
    let other_secret = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &session("ann"),
        &EncodingKey::from_secret(&std::fs::read(fixture("jwks.json")).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(jwt_refusal(&other_secret), JwtError::Signature);

    // Algorithm confusion: the RSA public key, which anyone may have, used as
    // an HMAC secret, against a server with no secret at all. A verifier that
    // took the named key for whatever the header says would accept it.
    let jwks_only = ShopJwts::load(JwtOptions {
        hs256_secret: None,
        ..options()
    })
    .unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("shop-rsa-1".into());
    let confused = jsonwebtoken::encode(
        &header,
        &session("ann"),
        &EncodingKey::from_secret(&std::fs::read(fixture("rsa-public.pem")).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        refusal(&jwks_only, &confused),
        Unidentified::Jwt(JwtError::Algorithm(Algorithm::HS256))
    );

    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&session("ann"))
    );
    assert_eq!(jwt_refusal(&unsigned), JwtError::Malformed);
    assert_eq!(jwt_refusal("not-a-jwt"), JwtError::Malformed);

    let hour_ago = now_s() - 3_600;
    assert_eq!(
        jwt_refusal(&with(json!({"exp": hour_ago}))),
        JwtError::Expired {
            at_ms: hour_ago * 1000
        }
    );
    assert!(
        jwts.verify(&with(json!({"exp": now_s() - 10})), now_s() * 1000)
            .is_ok(),
        "ten seconds past exp is within the leeway for the shop's clock"
    );
    let next_hour = now_s() + 3_600;
    assert_eq!(
        jwt_refusal(&with(json!({"nbf": next_hour}))),
        JwtError::NotYetValid {
            from_ms: next_hour * 1000
        }
    );
    assert_eq!(
        jwt_refusal(&with(json!({"aud": "another-app"}))),
        JwtError::Audience
    );
    assert!(
        jwts.verify(
            &with(json!({"aud": ["another-app", AUDIENCE]})),
            now_s() * 1000
        )
        .is_ok(),
        "a token for several audiences, ours among them, names its shopper"
    );
    assert_eq!(
        jwt_refusal(&with(json!({"iss": "https://evil.example"}))),
        JwtError::Issuer
    );
    // With audiences and issuers configured, a token that leaves them out
    // was not made for this engine.
    assert_eq!(
        jwt_refusal(&with(json!({"aud": null}))),
        JwtError::MissingClaim("aud".into())
    );
    assert_eq!(
        jwt_refusal(&with(json!({"iss": null}))),
        JwtError::MissingClaim("iss".into())
    );
    assert_eq!(
        jwt_refusal(&with(json!({"exp": null}))),
        JwtError::MissingClaim("exp".into())
    );
    assert_eq!(
        jwt_refusal(&with(json!({"sub": null}))),
        JwtError::MissingClaim("sub".into())
    );
    assert!(matches!(
        refusal(&jwts, &with(json!({"sub": "ann|bob"}))),
        Unidentified::InvalidCustomer(_)
    ));

    assert_eq!(
        jwt_refusal(&signed(
            Algorithm::RS256,
            Some("shop-rsa-2"),
            &session("ann")
        )),
        JwtError::UnknownKey("shop-rsa-2".into())
    );
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &session("ann"),
        &EncodingKey::from_secret(HS256_SECRET).unwrap(),
    )
    .unwrap();
    assert_eq!(jwt_refusal(&hs512), JwtError::Algorithm(Algorithm::HS512));
}

/// The shop's published JWKS, and a verifier of the JWKS file at `file`,
/// which holds only its RSA key for now: ES256 tokens name nobody yet.
fn verifier_of_the_rsa_key_alone(file: &Path) -> (ShopJwts, Value) {
    let published: Value =
        serde_json::from_slice(&std::fs::read(fixture("jwks.json")).unwrap()).unwrap();
    let only_rsa = json!({"keys": [published["keys"][0]]});
    std::fs::write(file, only_rsa.to_string()).unwrap();
    let jwts = ShopJwts::load(JwtOptions {
        hs256_secret: None,
        jwks_file: Some(file.to_owned()),
        ..options()
    })
    .unwrap();
    let ec_token = signed(Algorithm::ES256, Some("shop-ec-1"), &session("ann"));
    assert!(matches!(
        refusal(&jwts, &ec_token),
        Unidentified::Jwt(JwtError::Algorithm(Algorithm::ES256))
    ));
    (jwts, published)
}

fn set_mtime(file: &Path, mtime: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

#[test]
fn a_rewritten_jwks_file_is_read_again_and_a_broken_one_keeps_the_old_keys() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwks.json");
    let (jwts, published) = verifier_of_the_rsa_key_alone(&file);
    let ec_token = signed(Algorithm::ES256, Some("shop-ec-1"), &session("ann"));
    // A rewrite within one tick of the filesystem's clock leaves the mtime as
    // it was; this one does so every time.
    let rewrite = |contents: &str| {
        let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        std::fs::write(&file, contents).unwrap();
        set_mtime(&file, mtime);
    };

    rewrite(&published.to_string());
    assert!(jwts.reload_if_changed().unwrap(), "the new file is read");
    assert!(jwts.verify(&ec_token, now_s() * 1000).is_ok());
    assert!(
        !jwts.reload_if_changed().unwrap(),
        "an unchanged file is not parsed again"
    );
    set_mtime(&file, SystemTime::now() + Duration::from_secs(60));
    assert!(
        !jwts.reload_if_changed().unwrap(),
        "nor is one touched without being changed"
    );

    rewrite("{ not json");
    assert!(matches!(
        jwts.reload_if_changed(),
        Err(JwtSetupError::Parse { .. })
    ));
    assert!(
        jwts.verify(&ec_token, now_s() * 1000).is_ok(),
        "the keys in force stay"
    );
}

#[test]
fn a_zero_jwks_refresh_is_refused_at_start() {
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_api-server"))
        .args(["--jwt-jwks-refresh", "0s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "a usage error: {stderr}");
    assert!(stderr.contains("--jwt-jwks-refresh"), "{stderr}");
}

#[tokio::test]
async fn the_jwks_refresh_outlives_a_zero_period_and_takes_a_rewritten_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwks.json");
    let (jwts, published) = verifier_of_the_rsa_key_alone(&file);
    let ec_token = signed(Algorithm::ES256, Some("shop-ec-1"), &session("ann"));
    let refreshing = tokio::spawn(jwts.clone().keep_keys_current(Duration::ZERO));

    std::fs::write(&file, published.to_string()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while jwts.verify(&ec_token, now_s() * 1000).is_err() {
        if refreshing.is_finished() {
            panic!("the refresh task ended: {:?}", refreshing.await);
        }
        assert!(
            Instant::now() < deadline,
            "the rewritten file was never taken"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    refreshing.abort();
}

#[test]
fn a_jwks_file_without_a_usable_signature_key_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let load = |contents: &str| {
        let file = dir.path().join("jwks.json");
        std::fs::write(&file, contents).unwrap();
        ShopJwts::load(JwtOptions {
            hs256_secret: None,
            jwks_file: Some(file),
            ..options()
        })
    };
    let secret_in_jwks =
        json!({"keys": [{"kty": "oct", "alg": "HS256", "kid": "k", "k": "c2VjcmV0"}]});
    let error = load(&secret_in_jwks.to_string()).unwrap_err();
    assert!(
        matches!(error, JwtSetupError::NoUsableKey { .. })
            && error.to_string().contains("shared secret"),
        "{error}"
    );
    assert!(matches!(
        load("[]").unwrap_err(),
        JwtSetupError::Parse { .. }
    ));
    assert!(matches!(
        ShopJwts::load(JwtOptions {
            jwks_file: Some(dir.path().join("missing.json")),
            ..options()
        }),
        Err(JwtSetupError::Read { .. })
    ));
}

#[tokio::test]
async fn a_shops_jwt_names_the_shopper_over_http_beside_the_engines_own_tokens() {
    const TOKEN_SECRET: &[u8] = b"the engine's token secret";
    let tokens = ShopTokens::new(
        Some(CustomerTokens::new(TOKEN_SECRET)),
        Some(ShopJwts::load(options()).unwrap()),
    )
    .unwrap();
    let s = TestServer::start_with(ServerOptions {
        identity: Identity::Signed(tokens),
        ..ServerOptions::default()
    })
    .await;
    s.t.product("TEE", 10).await;
    let reserve =
        async |header: (&str, String), request: &str| reserve_one_tee(&s, header, request).await;

    let jwt = signed(Algorithm::ES256, Some("shop-ec-1"), &session("ann"));
    let (status, held) = reserve(("x-customer-token", jwt.clone()), "r1").await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    let id = held["reservation"]["id"].as_str().unwrap();
    let hold = s.t.engine.reservation(&id.parse().unwrap()).await.unwrap();
    assert_eq!(hold.customer_id.as_str(), "ann");

    let (status, _) = reserve(("cookie", format!("flashsale_token={jwt}")), "r2").await;
    assert_eq!(status, StatusCode::CREATED, "the cookie carries a JWT too");

    let own = CustomerTokens::new(TOKEN_SECRET)
        .issue(&"bob".parse().unwrap(), s.t.engine.now_ms() + 60_000);
    let (status, held) = reserve(("x-customer-token", own), "r3").await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the engine's own tokens still name shoppers"
    );
    let id = held["reservation"]["id"].as_str().unwrap();
    let hold = s.t.engine.reservation(&id.parse().unwrap()).await.unwrap();
    assert_eq!(hold.customer_id.as_str(), "bob");

    let mut expired = session("ann");
    expired["exp"] = json!(now_s() - 3_600);
    let (status, body) = reserve(
        (
            "x-customer-token",
            signed(Algorithm::RS256, Some("shop-rsa-1"), &expired),
        ),
        "r4",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
    assert_eq!(s.t.stock("TEE").await.held, 3);
}

#[tokio::test]
async fn a_socket_named_by_a_jwt_hears_its_shoppers_holds_and_a_forged_one_is_refused() {
    let s = TestServer::start_with(ServerOptions {
        identity: Identity::Signed(ShopJwts::load(options()).unwrap().into()),
        ..ServerOptions::default()
    })
    .await;
    s.t.product("TEE", 10).await;
    let jwt = signed(Algorithm::RS256, Some("shop-rsa-1"), &session("ann"));
    let mut socket = SocketClient::websocket(s.http_addr(), Some(&json!({"token": jwt})))
        .await
        .expect("the shop's JWT connects");

    let held = s
        .http
        .post(s.url("/api/products/TEE/reservations"))
        .header("x-customer-token", &jwt)
        .json(&json!({"quantity": 1, "request_id": "r1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), StatusCode::CREATED);
    let held: Value = held.json().await.unwrap();
    let hold_event = loop {
        match socket.next_within(ACK_LIMIT).await {
            Some(Received::Event(event)) if event.name == "hold" => break event,
            Some(Received::Event(_)) => continue,
            other => panic!("no hold event for ann's socket: {other:?}"),
        }
    };
    assert_eq!(
        hold_event.data["reservation_id"], held["reservation"]["id"],
        "ann's socket hears ann's hold"
    );

    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &session("ann"),
        &EncodingKey::from_rsa_pem(&std::fs::read(fixture("unpublished-rsa.pem")).unwrap())
            .unwrap(),
    )
    .unwrap();
    let refused = SocketClient::websocket(s.http_addr(), Some(&json!({"token": forged})))
        .await
        .err()
        .expect("a forged JWT is refused");
    assert!(
        matches!(&refused, SocketError::Refused(data)
            if data["message"].as_str().is_some_and(|m| m.contains("signature"))),
        "{refused}"
    );
}
