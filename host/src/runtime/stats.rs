//! Counters the runtime keeps, exported as Prometheus metrics.

use std::sync::atomic::{AtomicU64, Ordering};

/// Runtime counters. All monotonic.
#[derive(Debug, Default)]
pub struct RuntimeStats {
    /// Connector calls started.
    pub calls: AtomicU64,
    /// Calls that failed (trap, timeout, memory cap, busy).
    pub call_failures: AtomicU64,
    /// Calls stopped at their deadline.
    pub timeouts: AtomicU64,
    /// Calls that hit the memory cap.
    pub memory_cap_hits: AtomicU64,
    /// Calls that could not get an instance slot in time.
    pub busy: AtomicU64,
    /// Outbound requests refused by the egress policy.
    pub egress_denied: AtomicU64,
    /// Names of outbound requests' destinations looked up (the others reused a recent answer).
    pub dns_lookups: AtomicU64,
    /// Connector reloads that took effect.
    pub reloads: AtomicU64,
    /// Connector reloads refused (bad file); the previous version kept serving.
    pub reload_failures: AtomicU64,
}

impl RuntimeStats {
    /// Add one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition of the counters.
    pub fn render(&self) -> String {
        let rows = [
            ("switchboard_connector_calls_total", "Connector calls started.", &self.calls),
            ("switchboard_connector_call_failures_total", "Connector calls that failed.", &self.call_failures),
            ("switchboard_connector_timeouts_total", "Connector calls stopped at their deadline.", &self.timeouts),
            ("switchboard_connector_memory_cap_hits_total", "Connector calls that hit the memory cap.", &self.memory_cap_hits),
            ("switchboard_connector_busy_total", "Connector calls refused because the instance pool was full.", &self.busy),
            ("switchboard_egress_denied_total", "Outbound connector requests refused by the egress policy.", &self.egress_denied),
            ("switchboard_egress_dns_lookups_total", "Destination names looked up for outbound connector requests; the others reused a recent answer.", &self.dns_lookups),
            ("switchboard_connector_reloads_total", "Connector hot reloads that took effect.", &self.reloads),
            ("switchboard_connector_reload_failures_total", "Connector hot reloads refused.", &self.reload_failures),
        ];
        let mut out = String::new();
        for (name, help, value) in rows {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n", value.load(Ordering::Relaxed)));
        }
        out
    }
}
