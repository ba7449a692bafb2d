//! The deployment's VAPID key pair (RFC 8292): a P-256 private key every
//! process signs its pushes with, and the public key the browsers subscribe
//! with (`applicationServerKey`). All of it is the `p256` crate's; this
//! module only reads and writes the forms operators have keys in.

use std::path::Path;

use base64ct::{Base64UrlUnpadded, Encoding};
use p256::SecretKey;
use p256::elliptic_curve::Generate;
use p256::elliptic_curve::sec1::ToSec1Point;

use crate::error::{Error, Result};

/// A VAPID key pair.
#[derive(Clone)]
pub struct VapidKey {
    secret: SecretKey,
}

impl VapidKey {
    /// A new key pair, from the operating system's random numbers.
    pub fn generate() -> Self {
        Self {
            secret: SecretKey::generate(),
        }
    }

    /// The 32-byte raw private key as base64url (padding tolerated), as
    /// `npx web-push generate-vapid-keys` prints it.
    pub fn from_base64url(text: &str) -> Result<Self> {
        let bytes = Base64UrlUnpadded::decode_vec(text.trim().trim_end_matches('='))
            .map_err(|_| invalid("is not base64url"))?;
        if bytes.len() != 32 {
            return Err(invalid(&format!(
                "a raw P-256 private key is 32 bytes, this is {}",
                bytes.len()
            )));
        }
        let secret =
            SecretKey::from_slice(&bytes).map_err(|_| invalid("is not a P-256 private key"))?;
        Ok(Self { secret })
    }

    /// A PEM private key: SEC1 (`EC PRIVATE KEY`, as `openssl ecparam
    /// -genkey -name prime256v1` writes) or PKCS#8 (`PRIVATE KEY`, as
    /// `openssl genpkey` writes). Other PEM blocks before it (the curve's
    /// `EC PARAMETERS`) are skipped.
    pub fn from_pem(text: &str) -> Result<Self> {
        let start = [
            "-----BEGIN EC PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----",
        ]
        .iter()
        .filter_map(|label| text.find(label))
        .min()
        .ok_or_else(|| invalid("holds no EC PRIVATE KEY or PRIVATE KEY block"))?;
        let secret = SecretKey::from_pem(text[start..].trim())
            .map_err(|e| invalid(&format!("is not a P-256 private key in PEM: {e}")))?;
        Ok(Self { secret })
    }

    /// A file holding a PEM key or a base64url one, whichever it holds.
    pub fn read_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::InvalidArgument {
            field: "vapid_private_key_file",
            reason: format!("cannot read {}: {e}", path.display()),
        })?;
        let read = if text.contains("-----BEGIN") {
            Self::from_pem(&text)
        } else {
            Self::from_base64url(&text)
        };
        read.map_err(|e| match e {
            Error::InvalidArgument { reason, .. } => Error::InvalidArgument {
                field: "vapid_private_key_file",
                reason: format!("{}: {reason}", path.display()),
            },
            other => other,
        })
    }

    pub fn private_bytes(&self) -> [u8; 32] {
        let mut bytes = [0; 32];
        bytes.copy_from_slice(&self.secret.to_bytes());
        bytes
    }

    /// The raw private key as base64url without padding.
    pub fn to_base64url(&self) -> String {
        Base64UrlUnpadded::encode_string(&self.private_bytes())
    }

    /// The uncompressed public point (65 bytes, 0x04 first).
    pub fn public_key_bytes(&self) -> Vec<u8> {
        self.secret
            .public_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec()
    }

    /// The uncompressed public point as base64url without padding: what the
    /// browser's `applicationServerKey` takes, and the `k=` of the VAPID
    /// `Authorization` header.
    pub fn public_key_base64url(&self) -> String {
        Base64UrlUnpadded::encode_string(&self.public_key_bytes())
    }
}

impl std::fmt::Debug for VapidKey {
    /// The public key only: a private key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey")
            .field("public_key", &self.public_key_base64url())
            .finish_non_exhaustive()
    }
}

fn invalid(reason: &str) -> Error {
    Error::InvalidArgument {
        field: "vapid_private_key",
        reason: reason.to_owned(),
    }
}
