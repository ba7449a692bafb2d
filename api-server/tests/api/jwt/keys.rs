//! The JWKS file's life: read again when its contents change, a broken one
//! keeping the keys in force, one without a usable key refused at start,
//! and a refresh period that is never zero.

use super::*;

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
