//! The shop's own JWTs as shoppers' names: `sub` is the customer id, `exp`
//! is required and checked on the engine's clock (with a leeway for the
//! shop's clock), `aud` and `iss` are required and checked when configured.
//! HS256 with a secret the shop shares, or RS256, ES256 and their kin with
//! the public keys of a JWKS file, which is taken again when its contents
//! change so that the shop can rotate its keys without a restart.
//!
//! A token's header picks only among the keys made for its algorithm, so an
//! RSA public key is never taken for an HMAC secret, and `alg: none` is no
//! algorithm at all: such tokens name nobody.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use reservation_core::CustomerId;
use sha2::{Digest, Sha256};

use super::Unidentified;

/// How the shop's JWTs are checked.
#[derive(Clone, Default)]
pub struct JwtOptions {
    /// The HS256 secret the shop signs with.
    pub hs256_secret: Option<Vec<u8>>,
    /// A JWKS file with the shop's public keys.
    pub jwks_file: Option<PathBuf>,
    /// Accepted `aud` values; none: `aud` is not checked.
    pub audiences: Vec<String>,
    /// Accepted `iss` values; none: `iss` is not checked.
    pub issuers: Vec<String>,
    /// How far the shop's clock may be off from the engine's.
    pub leeway: Duration,
}

/// The secret never shows, in logs or anywhere else.
impl fmt::Debug for JwtOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtOptions")
            .field("hs256_secret", &self.hs256_secret.as_ref().map(|_| ".."))
            .field("jwks_file", &self.jwks_file)
            .field("audiences", &self.audiences)
            .field("issuers", &self.issuers)
            .field("leeway", &self.leeway)
            .finish()
    }
}

impl JwtOptions {
    /// Whether any key is configured, so that JWTs can be checked at all.
    pub fn is_configured(&self) -> bool {
        self.hs256_secret.is_some() || self.jwks_file.is_some()
    }
}

/// Why a JWT names nobody.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("it is not a signed JWT")]
    Malformed,
    #[error("this server takes no {0:?} tokens")]
    Algorithm(Algorithm),
    #[error("no key of the shop has the key id {0:?}")]
    UnknownKey(String),
    #[error("its signature does not match")]
    Signature,
    #[error("it expired at {at_ms} ms")]
    Expired { at_ms: i64 },
    #[error("it is not valid before {from_ms} ms")]
    NotYetValid { from_ms: i64 },
    #[error("it has no {0} claim")]
    MissingClaim(String),
    #[error("its {0} claim is malformed")]
    BadClaim(String),
    #[error("it is meant for another audience")]
    Audience,
    #[error("it comes from another issuer")]
    Issuer,
}

/// Why the shop's keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum JwtSetupError {
    #[error("the HS256 secret is empty")]
    EmptySecret,
    #[error("cannot read the JWKS file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the JWKS file {path} is not a JWK set: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("the JWKS file {path} holds no key this server can check signatures with: {why}")]
    NoUsableKey { path: PathBuf, why: String },
}

/// Checks the shop's JWTs. Clones share their keys.
#[derive(Clone)]
pub struct ShopJwts {
    options: Arc<JwtOptions>,
    keys: Arc<RwLock<Arc<KeyRing>>>,
}

impl fmt::Debug for ShopJwts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopJwts")
            .field("options", &self.options)
            .field("keys", &self.current().keys.len())
            .finish()
    }
}

/// The keys in force, and the SHA-256 of the JWKS file they came from.
struct KeyRing {
    keys: Vec<ShopKey>,
    jwks_digest: Option<[u8; 32]>,
}

struct ShopKey {
    /// `None` for the HS256 secret, which matches any key id.
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// The claims read from a token; the rest are the shop's business.
#[derive(serde::Deserialize)]
struct Claims {
    sub: Option<String>,
    /// NumericDate: seconds, possibly with a fraction.
    exp: Option<f64>,
    nbf: Option<f64>,
}

impl ShopJwts {
    /// Loads the configured keys; fails when one cannot be used.
    pub fn load(options: JwtOptions) -> Result<Self, JwtSetupError> {
        let options = Arc::new(options);
        let jwks = options.jwks_file.as_deref().map(read_file).transpose()?;
        let ring = key_ring(&options, jwks.as_deref())?;
        Ok(Self {
            options,
            keys: Arc::new(RwLock::new(Arc::new(ring))),
        })
    }

    /// The customer `token` names at `now_ms`.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<CustomerId, Unidentified> {
        let claims = self.signed_claims(token)?;
        let leeway_ms = self.options.leeway.as_millis() as i64;
        let exp_ms = millis(claims.exp.ok_or(JwtError::MissingClaim("exp".into()))?);
        if exp_ms.saturating_add(leeway_ms) <= now_ms {
            return Err(JwtError::Expired { at_ms: exp_ms }.into());
        }
        if let Some(nbf_ms) = claims.nbf.map(millis)
            && nbf_ms.saturating_sub(leeway_ms) > now_ms
        {
            return Err(JwtError::NotYetValid { from_ms: nbf_ms }.into());
        }
        let sub = claims.sub.ok_or(JwtError::MissingClaim("sub".into()))?;
        CustomerId::new(sub).map_err(|e| Unidentified::InvalidCustomer(format!("sub: {e}")))
    }

    /// Takes the JWKS file's keys again if its contents differ from those
    /// of the keys in force; true when it did. On an error the keys in force
    /// stay.
    pub fn reload_if_changed(&self) -> Result<bool, JwtSetupError> {
        let Some(path) = &self.options.jwks_file else {
            return Ok(false);
        };
        // The contents, not the mtime: a rewrite within one tick of the
        // filesystem's clock leaves the mtime as it was.
        let contents = read_file(path)?;
        if Some(digest(&contents)) == self.current().jwks_digest {
            return Ok(false);
        }
        let ring = key_ring(&self.options, Some(&contents))?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ring);
        Ok(true)
    }

    /// Looks for a rewritten JWKS file every `every` (no more often than
    /// every 100 ms), for as long as the process runs, logging each reload
    /// and each file that cannot be used.
    pub async fn keep_keys_current(self, every: Duration) {
        if self.options.jwks_file.is_none() {
            return;
        }
        // A zero period would make `interval` panic, and one much shorter
        // than this would only keep a core busy reading an unchanged file.
        const SHORTEST: Duration = Duration::from_millis(100);
        let mut ticks = tokio::time::interval(every.max(SHORTEST));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match self.reload_if_changed() {
                Ok(true) => tracing::info!(
                    keys = self.current().keys.len(),
                    "the shop's JWKS file changed: its keys are in force"
                ),
                Ok(false) => {}
                Err(e) => tracing::warn!("keeping the shop's previous keys: {e}"),
            }
        }
    }

    fn current(&self) -> Arc<KeyRing> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The claims of a token whose signature one of the shop's keys vouches
    /// for, with `aud` and `iss` checked.
    fn signed_claims(&self, token: &str) -> Result<Claims, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
        let ring = self.current();
        let for_algorithm: Vec<&ShopKey> = ring
            .keys
            .iter()
            .filter(|k| k.algorithm == header.alg)
            .collect();
        if for_algorithm.is_empty() {
            return Err(JwtError::Algorithm(header.alg));
        }
        let candidates: Vec<&ShopKey> = match &header.kid {
            Some(kid) => for_algorithm
                .into_iter()
                .filter(|k| k.kid.as_ref().is_none_or(|own| own == kid))
                .collect(),
            None => for_algorithm,
        };
        if candidates.is_empty() {
            return Err(JwtError::UnknownKey(header.kid.unwrap_or_default()));
        }
        let validation = self.validation(header.alg);
        let mut refusal = JwtError::Signature;
        for candidate in candidates {
            match jsonwebtoken::decode::<Claims>(token, &candidate.key, &validation) {
                Ok(data) => return Ok(data.claims),
                // Without a key id, another key of the set may have signed it.
                Err(e) if *e.kind() == ErrorKind::InvalidSignature => {}
                Err(e) => refusal = refusal_of(e.kind()),
            }
        }
        Err(refusal)
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        // Times are checked on the engine's clock, in `verify`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        // jsonwebtoken compares `aud` and `iss` only when a token carries
        // them: without requiring them, leaving them out would get a token
        // past the check.
        let mut required = vec!["exp", "sub"];
        if self.options.audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.options.audiences);
            required.push("aud");
        }
        if !self.options.issuers.is_empty() {
            validation.set_issuer(&self.options.issuers);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        validation
    }
}

fn refusal_of(kind: &ErrorKind) -> JwtError {
    match kind {
        ErrorKind::InvalidSignature => JwtError::Signature,
        ErrorKind::MissingRequiredClaim(claim) => JwtError::MissingClaim(claim.clone()),
        ErrorKind::InvalidClaimFormat(claim) => JwtError::BadClaim(claim.clone()),
        ErrorKind::InvalidAudience => JwtError::Audience,
        ErrorKind::InvalidIssuer => JwtError::Issuer,
        _ => JwtError::Malformed,
    }
}

fn millis(seconds: f64) -> i64 {
    (seconds * 1000.0) as i64
}

/// The keys of `options`, with those of `jwks`, the contents of its JWKS
/// file.
fn key_ring(options: &JwtOptions, jwks: Option<&[u8]>) -> Result<KeyRing, JwtSetupError> {
    let mut keys = Vec::new();
    if let Some(secret) = &options.hs256_secret {
        if secret.is_empty() {
            return Err(JwtSetupError::EmptySecret);
        }
        keys.push(ShopKey {
            kid: None,
            algorithm: Algorithm::HS256,
            key: DecodingKey::from_secret(secret).map_err(|_| JwtSetupError::EmptySecret)?,
        });
    }
    let mut jwks_digest = None;
    if let (Some(path), Some(contents)) = (&options.jwks_file, jwks) {
        keys.extend(parse_jwks(path, contents)?);
        jwks_digest = Some(digest(contents));
    }
    Ok(KeyRing { keys, jwks_digest })
}

fn read_file(path: &Path) -> Result<Vec<u8>, JwtSetupError> {
    std::fs::read(path).map_err(|source| JwtSetupError::Read {
        path: path.to_owned(),
        source,
    })
}

fn digest(contents: &[u8]) -> [u8; 32] {
    Sha256::digest(contents).into()
}

/// The signature keys of the JWKS file at `path`, which holds `contents`.
/// Keys it cannot use are skipped with a warning, unless none is left.
fn parse_jwks(path: &Path, contents: &[u8]) -> Result<Vec<ShopKey>, JwtSetupError> {
    let set: JwkSet = serde_json::from_slice(contents).map_err(|source| JwtSetupError::Parse {
        path: path.to_owned(),
        source,
    })?;
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    for (index, jwk) in set.keys.iter().enumerate() {
        match shop_key(jwk) {
            Ok(key) => keys.push(key),
            Err(why) => {
                let name = jwk
                    .common
                    .key_id
                    .clone()
                    .unwrap_or_else(|| format!("#{index}"));
                skipped.push(format!("key {name}: {why}"));
            }
        }
    }
    if keys.is_empty() {
        return Err(JwtSetupError::NoUsableKey {
            path: path.to_owned(),
            why: if skipped.is_empty() {
                "it is empty".to_owned()
            } else {
                skipped.join("; ")
            },
        });
    }
    for why in skipped {
        tracing::warn!(file = %path.display(), "skipping a key of the shop's JWKS: {why}");
    }
    Ok(keys)
}

fn shop_key(jwk: &Jwk) -> Result<ShopKey, String> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return Err("not a signature key (\"use\" is not \"sig\")".to_owned());
    }
    let algorithm = match (&jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(alg), _) => Algorithm::from_str(&alg.to_string())
            .map_err(|_| format!("its algorithm {alg} is not one this server checks"))?,
        (None, AlgorithmParameters::RSA(_)) => Algorithm::RS256,
        (None, AlgorithmParameters::EllipticCurve(ec)) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return Err("give its \"alg\": the curve alone does not say".to_owned()),
        },
        (None, _) => return Err("give its \"alg\"".to_owned()),
    };
    if algorithm.family() == AlgorithmFamily::Hmac {
        return Err("a shared secret does not belong in a JWKS file".to_owned());
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable: {e}"))?;
    if key.family() != algorithm.family() {
        return Err(format!(
            "its \"alg\" {algorithm:?} is not for a key of its type"
        ));
    }
    Ok(ShopKey {
        kid: jwk.common.key_id.clone(),
        algorithm,
        key,
    })
}
