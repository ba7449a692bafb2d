//! Which push services a deployment takes subscriptions at: the browsers'
//! own by default, or the operator's list. The workers post to every
//! endpoint taken, so this is what keeps a shopper from aiming them at an
//! internal service or at a slow server of their own.

use std::fmt;
use std::str::FromStr;

use super::invalid;
use crate::error::{Error, Result};

/// Which endpoints a deployment accepts: https to one of its push services
/// (by default the browsers' own), and plain http to loopback when allowed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    /// Plain http to a loopback host (127.0.0.0/8, `::1`, `localhost`): a
    /// push service faked by a test or a developer, never a real one. Such
    /// an endpoint is taken whatever `push_services` says.
    pub allow_http_loopback: bool,
    /// The hosts an https endpoint may name.
    pub push_services: PushServices,
}

/// The push services whose endpoints a deployment takes, by host name. The
/// workers post to every endpoint taken, so an endpoint anywhere else (an
/// internal service, a shopper's own slow server) is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushServices(&'static [PushServiceHost]);

impl PushServices {
    /// The browsers' push services: `fcm.googleapis.com` (Chrome, Edge on
    /// Android, Opera, Samsung Internet, …),
    /// `updates.push.services.mozilla.com` (Firefox), `*.notify.windows.com`
    /// (Edge on Windows, through WNS) and `web.push.apple.com` (Safari).
    pub const BROWSERS: Self = Self(&[
        PushServiceHost::exact("fcm.googleapis.com"),
        PushServiceHost::exact("updates.push.services.mozilla.com"),
        PushServiceHost::under("notify.windows.com"),
        PushServiceHost::exact("web.push.apple.com"),
    ]);

    pub const fn new(hosts: &'static [PushServiceHost]) -> Self {
        Self(hosts)
    }

    /// A list made at run time (from a setting): kept for the life of the
    /// process, as settings are; make it once, at start.
    pub fn leaked(hosts: Vec<PushServiceHost>) -> Self {
        Self(Vec::leak(hosts))
    }

    /// `HOST[,HOST…]` (see [`PushServiceHost`]'s `FromStr`), kept for the
    /// life of the process like [`Self::leaked`]. At least one host.
    pub fn parse_list(text: &str) -> Result<Self> {
        let hosts = text
            .split(',')
            .map(|host| host.trim().parse())
            .collect::<Result<Vec<PushServiceHost>>>()?;
        Ok(Self::leaked(hosts))
    }

    pub fn hosts(&self) -> &'static [PushServiceHost] {
        self.0
    }

    fn accepts(&self, host: &str, port: u16) -> bool {
        self.0.iter().any(|listed| listed.matches(host, port))
    }
}

impl Default for PushServices {
    fn default() -> Self {
        Self::BROWSERS
    }
}

impl fmt::Display for PushServices {
    /// `a, b, *.c`; "none" for an empty list.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (n, host) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{host}")?;
        }
        Ok(())
    }
}

/// One push service an endpoint may name: a host (`fcm.googleapis.com`), or
/// every host under a domain (`*.notify.windows.com`, not the domain
/// itself), on https's port 443 unless it says another (`ntfy.example:8443`).
/// Never an IP address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushServiceHost {
    /// Lower case ASCII (an internationalised name in its `xn--` form).
    name: &'static str,
    subdomains: bool,
    port: u16,
}

impl PushServiceHost {
    const HTTPS_PORT: u16 = 443;

    /// The host `name` (lower case), on port 443.
    pub const fn exact(name: &'static str) -> Self {
        Self {
            name,
            subdomains: false,
            port: Self::HTTPS_PORT,
        }
    }

    /// Every host under `domain` (lower case), on port 443.
    pub const fn under(domain: &'static str) -> Self {
        Self {
            name: domain,
            subdomains: true,
            port: Self::HTTPS_PORT,
        }
    }

    pub const fn with_port(self, port: u16) -> Self {
        Self { port, ..self }
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        if port != self.port {
            return false;
        }
        if self.subdomains {
            host.len() > self.name.len() + 1
                && host.ends_with(self.name)
                && host.as_bytes()[host.len() - self.name.len() - 1] == b'.'
        } else {
            host == self.name
        }
    }
}

impl FromStr for PushServiceHost {
    type Err = Error;

    /// `host`, `*.domain` or either with `:port`; case is ignored. A host
    /// name of letters, digits, `-` and dots, not an IP address. The name is
    /// kept for the life of the process: for settings, read once.
    fn from_str(text: &str) -> Result<Self> {
        let field = "push_service_hosts";
        let bad = |reason: &str| invalid(field, format!("{text:?}: {reason}"));
        let lower = text.to_ascii_lowercase();
        let (subdomains, rest) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        let (name, port) = match rest.rsplit_once(':') {
            Some((name, port)) => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|port| *port > 0)
                    .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?;
                (name, port)
            }
            None => (rest, Self::HTTPS_PORT),
        };
        if name.is_empty() {
            return Err(bad("names no host"));
        }
        if name.len() > 253 {
            return Err(bad("a host name is at most 253 characters"));
        }
        let labels: Vec<&str> = name.split('.').collect();
        let label_ok = |label: &&str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !labels.iter().all(label_ok) {
            return Err(bad(
                "must be a host name (letters, digits, '-' and dots), optionally \
                 *.domain for the hosts under it and :port",
            ));
        }
        // A name ending in a number is read as an IPv4 address by URL
        // parsers (`1.2.3.4`, `0x7f.1`, `2130706433`): never a push service.
        let last = labels[labels.len() - 1];
        if last.bytes().all(|b| b.is_ascii_digit())
            || (last.starts_with("0x") && last[2..].bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(bad(
                "must be a host name, not an IP address: push services are named",
            ));
        }
        let name: &'static str = String::leak(name.to_owned());
        Ok(Self {
            name,
            subdomains,
            port,
        })
    }
}

impl fmt::Display for PushServiceHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.subdomains {
            f.write_str("*.")?;
        }
        f.write_str(self.name)?;
        if self.port != Self::HTTPS_PORT {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// An https endpoint names one of `services`, on its port.
pub(super) fn check_push_service(
    url: &url::Url,
    host: &url::Host<&str>,
    services: PushServices,
) -> Result<()> {
    let field = "endpoint";
    let url::Host::Domain(name) = host else {
        return Err(invalid(
            field,
            format!(
                "must name its push service by host name, not an IP address \
                 (this shop accepts push services at: {services})"
            ),
        ));
    };
    // The URL parser lower-cases the host (and gives an internationalised
    // one in its xn-- form); a trailing dot matches no listed name.
    let port = url
        .port_or_known_default()
        .unwrap_or(PushServiceHost::HTTPS_PORT);
    if !services.accepts(name, port) {
        let at = match url.port() {
            Some(port) => format!("{name}:{port}"),
            None => (*name).to_owned(),
        };
        return Err(invalid(
            field,
            format!("must be at a push service this shop accepts ({services}), not {at}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_host_reads_back_as_written() {
        for text in [
            "fcm.googleapis.com",
            "*.notify.windows.com",
            "ntfy.example:8443",
        ] {
            let host: PushServiceHost = text.parse().unwrap();
            assert_eq!(host.to_string(), text);
        }
        let host: PushServiceHost = "Push.Example:443".parse().unwrap();
        assert_eq!(host, PushServiceHost::exact("push.example"));
        assert_eq!(
            PushServices::BROWSERS.to_string(),
            "fcm.googleapis.com, updates.push.services.mozilla.com, \
             *.notify.windows.com, web.push.apple.com"
        );
    }
}
