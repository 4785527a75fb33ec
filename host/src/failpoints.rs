//! Failpoints for crash tests: named places where the `FAILPOINTS` environment variable makes the host stop
//! and wait, so a test can kill the process at exactly that point.
//!
//! `FAILPOINTS=ingest.after_commit` (a comma-separated list) pauses every request that
//! reaches one of the named points. Unset, each check is one relaxed atomic load.

use std::sync::OnceLock;

/// The points that can be armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// A webhook's events are about to be committed.
    IngestBeforeCommit,
    /// A webhook's events are committed; the reply has not been sent.
    IngestAfterCommit,
    /// The dispatcher is about to hand a message to its connector.
    DispatchBeforeSend,
}

impl Point {
    fn name(self) -> &'static str {
        match self {
            Point::IngestBeforeCommit => "ingest.before_commit",
            Point::IngestAfterCommit => "ingest.after_commit",
            Point::DispatchBeforeSend => "dispatch.before_send",
        }
    }
}

fn armed() -> &'static Vec<String> {
    static ARMED: OnceLock<Vec<String>> = OnceLock::new();
    ARMED.get_or_init(|| {
        std::env::var("FAILPOINTS")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    })
}

/// If `point` is armed, log it and wait forever (until the process is killed).
pub async fn check(point: Point) {
    if armed().is_empty() || !armed().iter().any(|p| p == point.name()) {
        return;
    }
    tracing::warn!(failpoint = point.name(), "failpoint reached; pausing until the process is killed");
    std::future::pending::<()>().await;
}
