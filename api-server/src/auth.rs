//! Who may call what. Merchants' back-ends present a bearer token from the
//! configured set; shoppers name themselves with a customer id (a header or a
//! cookie the page sets).
//!
//! Tokens are compared in constant time, so response timing says nothing about
//! how much of a guess was right.

use std::path::Path;

use subtle::ConstantTimeEq;

/// The merchant bearer tokens this node accepts.
#[derive(Clone, Default)]
pub struct MerchantTokens(Vec<Vec<u8>>);

impl MerchantTokens {
    pub fn new(tokens: impl IntoIterator<Item = String>) -> Self {
        Self(
            tokens
                .into_iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .map(String::into_bytes)
                .collect(),
        )
    }

    /// The tokens given, plus those of `file` (one per line; blank lines and
    /// `#` comments are skipped).
    pub fn load(tokens: Vec<String>, file: Option<&Path>) -> std::io::Result<Self> {
        let mut all = tokens;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)?;
            all.extend(
                text.lines()
                    .filter(|line| !line.trim_start().starts_with('#'))
                    .map(str::to_owned),
            );
        }
        Ok(Self::new(all))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether an `authorization` header value carries an accepted token.
    /// Every configured token is compared, whatever matched, to keep timing flat.
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(token) = authorization.and_then(|v| v.strip_prefix(b"Bearer ")) else {
            return false;
        };
        self.0
            .iter()
            .fold(subtle::Choice::from(0), |found, known| {
                found | known.as_slice().ct_eq(token)
            })
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_configured_bearer_token_is_accepted() {
        let tokens = MerchantTokens::new(["alpha".to_owned(), " beta ".to_owned(), String::new()]);
        assert_eq!(tokens.len(), 2);
        assert!(tokens.accepts(Some(b"Bearer alpha")));
        assert!(tokens.accepts(Some(b"Bearer beta")));
        for wrong in [
            &b"Bearer alph"[..],
            b"Bearer alphaa",
            b"alpha",
            b"Basic alpha",
            b"Bearer ",
        ] {
            assert!(
                !tokens.accepts(Some(wrong)),
                "{:?}",
                String::from_utf8_lossy(wrong)
            );
        }
        assert!(!tokens.accepts(None));
        assert!(!MerchantTokens::default().accepts(Some(b"Bearer ")));
    }
}
