//! The verifier: each of the shop's keys names the shopper its `sub` names;
//! forged, expired, misdirected, unsigned and algorithm-confused tokens name
//! nobody.

use super::*;

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
