//! The egress policy: which hosts a channel's connector may call, through the contract's `http`
//! import or `wasi:http`.
//!
//! A request passes only if its host (and port, when the rule names one) matches the channel's
//! allow-list, and every address the name resolves to is public, unless the operator explicitly
//! allowed private and loopback addresses for the channel.

use std::net::IpAddr;

/// One allowed destination: a host name or address, with an optional port. `*.example.com`
/// allows every subdomain of `example.com` (but not `example.com` itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    /// Lower-case host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// When set, only this port.
    pub port: Option<u16>,
}

impl AllowedHost {
    /// True when `host` (lower-case) is this rule's host, or a subdomain of a `*.` rule's domain.
    pub fn matches(&self, host: &str) -> bool {
        match self.host.strip_prefix("*.") {
            Some(domain) => host.len() > domain.len() + 1 && host.ends_with(domain) && host.as_bytes()[host.len() - domain.len() - 1] == b'.',
            None => self.host == host,
        }
    }

    /// Parse `host`, `host:port` or a URL's authority (`https://host:port/...`).
    pub fn parse(text: &str) -> Option<AllowedHost> {
        let text = text.trim();
        let text = text.split_once("://").map(|(_, rest)| rest).unwrap_or(text);
        let authority = text.split(['/', '?', '#']).next().unwrap_or("");
        let authority = authority.rsplit_once('@').map(|(_, a)| a).unwrap_or(authority);
        split_authority(authority).map(|(host, port)| AllowedHost { host, port })
    }
}

/// Split `host[:port]` (IPv6 in brackets) into a lower-case host and a port.
pub fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    if authority.is_empty() {
        return None;
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        (host.to_string(), port)
    } else if let Some((host, port)) = authority.rsplit_once(':') {
        (host.to_string(), Some(port.parse().ok()?))
    } else {
        (authority.to_string(), None)
    };
    if host.is_empty() {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
}

/// A channel's egress policy.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    /// Allowed destinations. Empty allows nothing.
    pub allowed: Vec<AllowedHost>,
    /// Allow loopback, private, link-local and other non-public addresses.
    pub allow_private: bool,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The host is not on the allow-list.
    NotAllowed(String),
    /// The host resolved to a private or loopback address.
    PrivateAddress(String, IpAddr),
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denial::NotAllowed(authority) => {
                write!(f, "`{authority}` is not on the channel's egress allow-list")
            }
            Denial::PrivateAddress(authority, ip) => write!(
                f,
                "`{authority}` resolves to the non-public address {ip}; set allow_private_egress on the channel to permit it"
            ),
        }
    }
}

impl EgressPolicy {
    /// Check a destination's host and effective port against the allow-list.
    pub fn check_host(&self, host: &str, port: u16) -> Result<(), Denial> {
        let host = host.to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let allowed = self.allowed.iter().any(|rule| rule.matches(host) && rule.port.is_none_or(|p| p == port));
        if allowed { Ok(()) } else { Err(Denial::NotAllowed(format!("{host}:{port}"))) }
    }

    /// Check one address `host` (at `port`) resolved to.
    pub fn check_address(&self, host: &str, port: u16, ip: IpAddr) -> Result<(), Denial> {
        if self.allow_private || is_public(ip) {
            Ok(())
        } else {
            Err(Denial::PrivateAddress(format!("{host}:{port}"), ip))
        }
    }
}

/// True for globally routable unicast addresses.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules() {
        assert_eq!(
            AllowedHost::parse("https://Graph.Facebook.com/v21.0"),
            Some(AllowedHost { host: "graph.facebook.com".into(), port: None })
        );
        assert_eq!(AllowedHost::parse("127.0.0.1:9000"), Some(AllowedHost { host: "127.0.0.1".into(), port: Some(9000) }));
        assert_eq!(AllowedHost::parse("[::1]:80"), Some(AllowedHost { host: "::1".into(), port: Some(80) }));
        assert_eq!(AllowedHost::parse(""), None);
        assert_eq!(AllowedHost::parse("host:notaport"), None);
    }

    #[test]
    fn checks_hosts_and_addresses() {
        let policy = EgressPolicy {
            allowed: vec![AllowedHost::parse("api.example.com").unwrap(), AllowedHost::parse("127.0.0.1:9000").unwrap()],
            allow_private: false,
        };
        assert!(policy.check_host("API.example.com", 443).is_ok());
        assert!(policy.check_host("127.0.0.1", 9000).is_ok());
        assert!(policy.check_host("127.0.0.1", 9001).is_err());
        assert!(policy.check_host("evil.example.com", 443).is_err());
        assert!(policy.check_address("x", 80, "127.0.0.1".parse().unwrap()).is_err());
        assert!(policy.check_address("x", 80, "10.1.2.3".parse().unwrap()).is_err());
        assert!(policy.check_address("x", 80, "::ffff:192.168.0.1".parse().unwrap()).is_err());
        assert!(policy.check_address("x", 80, "93.184.216.34".parse().unwrap()).is_ok());
        let wildcard = EgressPolicy { allowed: vec![AllowedHost::parse("*.cdninstagram.com").unwrap()], allow_private: false };
        assert!(wildcard.check_host("scontent-lax3-1.cdninstagram.com", 443).is_ok());
        assert!(wildcard.check_host("cdninstagram.com", 443).is_err());
        assert!(wildcard.check_host("evilcdninstagram.com", 443).is_err());
        let open = EgressPolicy { allow_private: true, ..policy };
        assert!(open.check_address("x", 80, "127.0.0.1".parse().unwrap()).is_ok());
    }
}
