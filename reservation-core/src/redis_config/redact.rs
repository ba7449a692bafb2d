//! Passwords out of Redis URLs, for logs and errors: the one in
//! `scheme://user:password@host…` and the values of `pass=` (and other
//! password-like) query parameters, even in URLs that do not parse, since a
//! URL that fails to connect is the one printed.

use std::ops::Range;

/// Whether `node` starts with `scheme://`.
pub(super) fn starts_with_scheme(node: &str) -> bool {
    node.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// Query parameters the redis crate reads (`redis+unix://` URLs take the
/// database, the ACL user and the password from the query).
const QUERY_KEYS: [&str; 4] = ["db", "user", "pass", "protocol"];

/// One node's URL with its passwords replaced by `***`: the one in
/// `scheme://user:password@host…`, and the values of `pass=` and other
/// password-like query parameters.
///
/// The node may not parse as a URL: a password with a raw `/`, `?` or `#`
/// does not end the userinfo, nor does a raw `&` or `#` end a query value.
/// Each rule marks what it finds secret in the node as given, and the union
/// of those parts is hidden, so neither rule can be misled by the other's
/// edits.
pub(super) fn redact_password(node: &str) -> String {
    let mut secret = Vec::new();
    secret.extend(userinfo_password(node));
    secret.extend(query_passwords(node));
    secret.sort_by_key(|range| (range.start, range.end));

    let mut redacted = String::with_capacity(node.len());
    let mut shown = 0;
    let mut secret = secret.into_iter().peekable();
    while let Some(range) = secret.next() {
        let mut end = range.end;
        while let Some(next) = secret.next_if(|next| next.start <= end) {
            end = end.max(next.end);
        }
        redacted.push_str(&node[shown..range.start]);
        redacted.push_str("***");
        shown = end;
    }
    redacted.push_str(&node[shown..]);
    redacted
}

/// Where the password in `scheme://user:password@host…` is.
///
/// A host cannot hold an `@`, so the userinfo ends at the node's last `@`,
/// whatever `/`, `?` or `#` the password holds; with a `:` in it, all after
/// the first `:` is the password. A "user" that holds one of `/?#&=` is no
/// user (the `@` and `:` are likely in a query value), and is hidden too.
fn userinfo_password(node: &str) -> Option<Range<usize>> {
    let start = node.find("://").map_or(0, |scheme_end| scheme_end + 3);
    let at = start + node[start..].rfind('@')?;
    let colon = start + node[start..at].find(':')?;
    let user = &node[start..colon];
    if user.contains(['/', '?', '#', '&', '=']) {
        Some(start..at)
    } else {
        Some(colon + 1..at)
    }
}

/// Where the values of `pass=` and other password-like query parameters
/// are.
///
/// Every `?` or `&` may start a parameter (a password in the userinfo may
/// hold a `?`). A password runs on past any `?`, `&` or `#`, up to the next
/// parameter the redis crate reads: a raw `&` or `#` in it must not show
/// the rest.
fn query_passwords(node: &str) -> Vec<Range<usize>> {
    let start = node.find("://").map_or(0, |scheme_end| scheme_end + 3);
    let parameters: Vec<Parameter> = node[start..]
        .match_indices(['?', '&'])
        .filter_map(|(at, _)| Parameter::at(node, start + at + 1))
        .collect();

    let mut secret = Vec::new();
    for (i, parameter) in parameters.iter().enumerate() {
        if !is_password_like(&parameter.name) {
            continue;
        }
        let end = parameters[i + 1..]
            .iter()
            .find(|next| QUERY_KEYS.contains(&next.name.as_str()) || is_password_like(&next.name))
            // The `&` or `?` before the next parameter is not the password's.
            .map_or(node.len(), |next| next.start - 1);
        secret.push(parameter.value..end.max(parameter.value));
    }
    secret
}

/// A `name=value` query parameter.
struct Parameter {
    /// Where it starts, after its `?` or `&`.
    start: usize,
    /// Its name, percent-decoded.
    name: String,
    /// Where its value starts.
    value: usize,
}

impl Parameter {
    /// The parameter starting at `start`, if it has a value.
    fn at(node: &str, start: usize) -> Option<Self> {
        let text = &node[start..];
        let name_end = text.find(['=', '?', '&', '#'])?;
        text[name_end..].starts_with('=').then(|| Self {
            start,
            name: percent_decode(&text[..name_end]),
            value: start + name_end + 1,
        })
    }
}

/// Whether a query parameter's name says it is a password.
fn is_password_like(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token"]
        .iter()
        .any(|word| name.contains(word))
}

/// A query parameter's name as the URL parser reads it (`p%61ss` is
/// `pass`).
fn percent_decode(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (b'+', _) => {
                decoded.push(b' ');
                i += 1;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::redis_config::{ConnectionMode, RedisConfig};

    /// `url` redacted, after checking that no piece of `password` between
    /// its `/?#@&,:` shows.
    fn redacted_hiding(url: &str, password: &str) -> String {
        let redacted = RedisConfig::new(url).redacted_url();
        for piece in password.split(['/', '?', '#', '@', '&', ',', ':']) {
            assert!(
                piece.is_empty() || !redacted.contains(piece),
                "{piece:?} of the password shows in {redacted:?}"
            );
        }
        redacted
    }

    #[test]
    fn passwords_never_show_in_a_redacted_url() {
        let redacted = |url: &str| RedisConfig::new(url).redacted_url();
        assert_eq!(
            redacted("rediss://engine:s3cr3t@redis.example:6380/0"),
            "rediss://engine:***@redis.example:6380/0"
        );
        assert_eq!(
            redacted("redis://:s3cr3t@a:7000,redis://:s3cr3t@b:7000"),
            "redis://:***@a:7000,redis://:***@b:7000"
        );
        assert_eq!(redacted("redis://127.0.0.1:6380"), "redis://127.0.0.1:6380");
        assert_eq!(
            redacted("rediss://engine:s3cr3t@redis.example:6380/0#insecure"),
            "rediss://engine:***@redis.example:6380/0#insecure"
        );
        assert_eq!(
            redacted("redis://engine@[::1]:6379/2?protocol=3"),
            "redis://engine@[::1]:6379/2?protocol=3"
        );

        // A raw `/`, `?`, `#`, `@`, `:` or `,` in the password: the URL does
        // not parse, and the error that says so prints it.
        for (url, password, expected) in [
            (
                "redis://user:Pq/Rs@host:6379",
                "Pq/Rs",
                "redis://user:***@host:6379",
            ),
            (
                "redis://user:Pq?Rs@host:6379/1",
                "Pq?Rs",
                "redis://user:***@host:6379/1",
            ),
            (
                "rediss://user:Pq#Rs@host:6380",
                "Pq#Rs",
                "rediss://user:***@host:6380",
            ),
            (
                "redis://:Pq/Rs?Tu#Vw@host:6379/0",
                "Pq/Rs?Tu#Vw",
                "redis://:***@host:6379/0",
            ),
            (
                "redis://user:Pq@Rs:Tu@host:6379",
                "Pq@Rs:Tu",
                "redis://user:***@host:6379",
            ),
            // A `pass=` in it: all after it could be the query's password.
            (
                "redis://user:Pq/db=1?pass=Rs@host:6379",
                "Pq/db=1?pass=Rs",
                "redis://user:***",
            ),
            (
                "redis://:Pq,Rs@a:7000,redis://:Tu,Vw@b:7000",
                "Pq,Rs,Tu,Vw",
                "redis://:***@a:7000,redis://:***@b:7000",
            ),
        ] {
            assert_eq!(redacted_hiding(url, password), expected, "{url}");
        }

        // `redis+unix://` and `unix://` take the password from `pass=`.
        for (url, password, expected) in [
            (
                "redis+unix:///var/run/redis.sock?pass=Pq1Rs",
                "Pq1Rs",
                "redis+unix:///var/run/redis.sock?pass=***",
            ),
            (
                "unix:///var/run/redis.sock?db=2&pass=Pq1Rs&user=engine",
                "Pq1Rs",
                "unix:///var/run/redis.sock?db=2&pass=***&user=engine",
            ),
            (
                "redis+unix:///run/r.sock?user=engine&pass=Pq%26Rs&protocol=3",
                "Pq%26Rs",
                "redis+unix:///run/r.sock?user=engine&pass=***&protocol=3",
            ),
            (
                "unix:///run/r.sock?pass=Pq/Rs?Tu&Vw#Xy&db=1",
                "Pq/Rs?Tu&Vw#Xy",
                "unix:///run/r.sock?pass=***&db=1",
            ),
            (
                "unix:///run/r.sock?pass=Pq:Rs@Tu&db=1",
                "Pq:Rs@Tu",
                "unix://***&db=1",
            ),
            (
                "unix:///run/r.sock?p%61ss=Pq1Rs",
                "Pq1Rs",
                "unix:///run/r.sock?p%61ss=***",
            ),
            (
                "unix:///run/r.sock?password=Pq1Rs&PASS=Tu1Vw",
                "Pq1Rs&Tu1Vw",
                "unix:///run/r.sock?password=***&PASS=***",
            ),
            (
                "redis+unix:///run/r.sock?pass=Pq,Rs&db=1",
                "Pq,Rs",
                "redis+unix:///run/r.sock?pass=***&db=1",
            ),
        ] {
            assert_eq!(redacted_hiding(url, password), expected, "{url}");
        }
        assert_eq!(
            redacted("redis+unix:///var/run/redis.sock?db=1&user=engine&protocol=3"),
            "redis+unix:///var/run/redis.sock?db=1&user=engine&protocol=3"
        );
    }

    #[test]
    fn debug_shows_the_redacted_url() {
        let config = RedisConfig::new("rediss://engine:Pq/Rs@redis.example:6380/0")
            .with_mode(ConnectionMode::Pooled { size: 4 });
        for debug in [format!("{config:?}"), format!("{config:#?}")] {
            assert!(!debug.contains("Pq"), "{debug}");
            assert!(!debug.contains("Rs"), "{debug}");
            assert!(
                debug.contains("rediss://engine:***@redis.example:6380/0"),
                "{debug}"
            );
        }
        let debug = format!("{config:?}");
        for field in [
            "RedisConfig {",
            "cluster: false",
            "mode: Pooled { size: 4 }",
            &format!("connect_timeout: {:?}", Duration::from_secs(1)),
            &format!("response_timeout: {:?}", Duration::from_secs(2)),
            "tls: RedisTls {",
        ] {
            assert!(debug.contains(field), "{field} missing from {debug}");
        }
    }
}
