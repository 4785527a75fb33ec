//! The addresses of connectors' destinations, kept for a short while once resolved.
//!
//! Every send names its provider's host (`graph.facebook.com`, `api.twilio.com`), and resolving
//! it for every request would cost a hand-off to the blocking pool and a query to the system's
//! resolver each time. Addresses are reused for a fixed time instead. A reused answer is checked
//! against the calling channel's egress policy like a fresh one, so the cache never lets a
//! request past a check it would fail.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Resolved addresses by host and port.
pub struct Resolver {
    entries: Mutex<HashMap<(String, u16), Entry>>,
    ttl: Duration,
    capacity: usize,
}

struct Entry {
    addresses: Arc<[SocketAddr]>,
    until: Instant,
}

/// The addresses of a destination, and whether they came from a lookup just made.
pub struct Resolved {
    /// In the order the system's resolver gave them.
    pub addresses: Arc<[SocketAddr]>,
    /// False when they came from the cache, or the host was an address already.
    pub looked_up: bool,
}

impl Resolver {
    /// A resolver that reuses an answer for `ttl` and keeps at most `capacity` of them.
    pub fn new(ttl: Duration, capacity: usize) -> Resolver {
        Resolver { entries: Mutex::new(HashMap::new()), ttl, capacity: capacity.max(1) }
    }

    /// The addresses of `host` (a name or an IP literal, IPv6 without brackets) at `port`.
    /// Failed lookups are not kept: the next request asks again.
    pub async fn resolve(&self, host: &str, port: u16) -> std::io::Result<Resolved> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Resolved { addresses: Arc::from([SocketAddr::new(ip, port)]), looked_up: false });
        }
        let key = (host.to_ascii_lowercase(), port);
        if let Some(entry) = self.entries.lock().unwrap().get(&key)
            && entry.until > Instant::now()
        {
            return Ok(Resolved { addresses: entry.addresses.clone(), looked_up: false });
        }
        let addresses: Arc<[SocketAddr]> = tokio::net::lookup_host((host, port)).await?.collect::<Vec<_>>().into();
        if !addresses.is_empty() {
            let now = Instant::now();
            let mut entries = self.entries.lock().unwrap();
            if entries.len() >= self.capacity && !entries.contains_key(&key) {
                entries.retain(|_, entry| entry.until > now);
                if entries.len() >= self.capacity {
                    entries.clear();
                }
            }
            entries.insert(key, Entry { addresses: addresses.clone(), until: now + self.ttl });
        }
        Ok(Resolved { addresses, looked_up: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_is_looked_up_once_per_ttl_and_an_address_never() {
        let resolver = Resolver::new(Duration::from_millis(200), 8);
        let first = resolver.resolve("localhost", 8080).await.unwrap();
        assert!(first.looked_up);
        assert!(first.addresses.iter().all(|a| a.port() == 8080 && a.ip().is_loopback()));
        let again = resolver.resolve("LOCALHOST", 8080).await.unwrap();
        assert!(!again.looked_up, "the second request reuses the answer");
        assert!(resolver.resolve("localhost", 8081).await.unwrap().looked_up, "another port is another destination");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(resolver.resolve("localhost", 8080).await.unwrap().looked_up, "an answer older than the ttl is not reused");

        let literal = resolver.resolve("::1", 443).await.unwrap();
        assert!(!literal.looked_up);
        assert_eq!(&*literal.addresses, &["[::1]:443".parse().unwrap()]);
    }

    #[tokio::test]
    async fn a_full_cache_makes_room() {
        let resolver = Resolver::new(Duration::from_secs(60), 2);
        for port in [1, 2, 3] {
            assert!(resolver.resolve("localhost", port).await.unwrap().looked_up);
        }
        assert!(resolver.entries.lock().unwrap().len() <= 2);
        assert!(!resolver.resolve("localhost", 3).await.unwrap().looked_up, "the newest answer is kept");
    }
}
