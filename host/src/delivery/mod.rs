//! The dispatcher: takes due messages from the outbox, hands them to their channel's connector,
//! and records the receipt, a retry, or the failure with the provider's reason.

pub mod media;
pub mod payload;

use crate::channels::ChannelDirectory;
use crate::config::DeliveryConfig;
use crate::domain::backoff::retry_delay_ms;
use crate::domain::content::ProviderError;
use crate::ingest::{Ingestor, translate};
use crate::runtime::bindings::v0_1::switchboard::connector::types as wit;
use crate::runtime::registry::ConnectorRegistry;
use crate::store::outbox::{Claimed, Recorded};
use crate::store::{Db, now_ms};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// What a delivery attempt came to.
enum Outcome {
    Accepted { provider_id: String, segments: Option<u32> },
    Retry { error: ProviderError, retry_after_ms: Option<u64> },
    Fail(ProviderError),
}

/// The dispatcher of one host.
pub struct Dispatcher {
    db: Db,
    writer: Ingestor,
    connectors: Arc<ConnectorRegistry>,
    channels: Arc<ChannelDirectory>,
    config: DeliveryConfig,
    owner: String,
    wake: Arc<Notify>,
    /// Channels whose credentials were refused; cleared by their next success.
    unhealthy: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Dispatcher {
    /// Start the dispatcher; `wake` is notified when a message is queued. Claims and outcomes
    /// are written by `writer`, in the group commit of the host's other writes.
    pub fn spawn(
        db: Db,
        writer: Ingestor,
        connectors: Arc<ConnectorRegistry>,
        channels: Arc<ChannelDirectory>,
        config: DeliveryConfig,
        wake: Arc<Notify>,
    ) {
        let owner = format!("host-{}", uuid::Uuid::new_v4());
        let dispatcher = Arc::new(Dispatcher { db, writer, connectors, channels, config, owner, wake, unhealthy: Default::default() });
        tokio::spawn(async move { dispatcher.run().await });
    }

    async fn run(self: Arc<Self>) {
        let poll = Duration::from_millis(self.config.poll_interval_ms);
        // The previous batch's outcomes, being recorded while the next batch is claimed and sent
        // (its rows stay leased until then, so no other claim takes them).
        let mut recording: Option<tokio::task::JoinHandle<()>> = None;
        // The next batch, claimed while this one is sent.
        let mut next: Option<tokio::task::JoinHandle<Vec<Claimed>>> = None;
        loop {
            let claimed = match next.take() {
                Some(claim) => claim.await.unwrap_or_default(),
                None => self.claim().await,
            };
            if claimed.is_empty() {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                }
                continue;
            }
            let this = self.clone();
            next = Some(tokio::spawn(async move { this.claim().await }));
            // Send the batch concurrently, then record every outcome in one group commit.
            let attempts: Vec<(Claimed, Outcome)> = futures::stream::iter(claimed)
                .map(|row| {
                    let this = self.clone();
                    async move {
                        let outcome = this.attempt(&row).await;
                        (row, outcome)
                    }
                })
                .buffer_unordered(self.config.concurrency)
                .collect()
                .await;
            let records: Vec<(Claimed, Recorded)> = attempts.into_iter().map(|(row, outcome)| {
                let recorded = self.decide(&row, outcome);
                (row, recorded)
            }).collect();
            if let Some(previous) = recording.take() {
                let _ = previous.await;
            }
            let this = self.clone();
            recording = Some(tokio::spawn(async move {
                let rows = records.len();
                this.update_health(&records).await;
                if let Err(e) = this.writer.record_outcomes(&this.owner, records).await {
                    tracing::error!(error = %e, rows, "could not record delivery outcomes; the leases will expire and the rows will be retried");
                }
            }));
        }
    }

    /// Claim due rows; none when the claim fails (it is logged, and the next poll tries again).
    async fn claim(&self) -> Vec<Claimed> {
        match self.writer.claim_outbox(&self.owner, self.config.concurrency as i64, self.config.lease_ms as i64).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "outbox claim failed; retrying");
                Vec::new()
            }
        }
    }

    /// What to record for an attempt's outcome.
    fn decide(&self, row: &Claimed, outcome: Outcome) -> Recorded {
        match outcome {
            Outcome::Accepted { provider_id, segments } => Recorded::Delivered { provider_id, segments },
            Outcome::Retry { error, retry_after_ms } => {
                let attempt = row.attempts as u32 + 1;
                if attempt >= self.config.max_attempts {
                    let mut error = error;
                    error.detail = Some(format!("gave up after {attempt} attempts; last: {}", error.detail.unwrap_or_default()));
                    Recorded::Failed(error)
                } else {
                    let delay = retry_delay_ms(attempt, self.config.retry_base_ms, self.config.retry_cap_ms, retry_after_ms, rand::random());
                    tracing::info!(message = %row.message_id, channel = %row.channel_id, attempt, delay_ms = delay, code = %error.code, "delivery will be retried");
                    Recorded::Retry { at: now_ms() + delay as i64, error }
                }
            }
            Outcome::Fail(error) => Recorded::Failed(error),
        }
    }

    /// Show refused credentials on the channel, and clear them once a send succeeds.
    async fn update_health(&self, records: &[(Claimed, Recorded)]) {
        for (row, recorded) in records {
            match recorded {
                Recorded::Failed(error) if error.category == "auth" => {
                    tracing::error!(channel = %row.channel_id, code = %error.code, "the channel's credentials were refused: {}; fix the channel's settings", error.title);
                    self.unhealthy.lock().unwrap().insert(row.channel_id.clone());
                    let problem = serde_json::json!({
                        "status": "credentials_refused", "code": error.code, "title": error.title, "at": now_ms(),
                        "fix": "update the channel's access token or credentials",
                    });
                    let _ = crate::store::channels::set_health(&self.db, &row.channel_id, Some(&problem)).await;
                }
                Recorded::Delivered { .. } => {
                    if self.unhealthy.lock().unwrap().remove(&row.channel_id) {
                        let _ = crate::store::channels::set_health(&self.db, &row.channel_id, None).await;
                    }
                }
                _ => {}
            }
        }
    }

    async fn attempt(&self, row: &Claimed) -> Outcome {
        let problem = |code: &str, title: String| ProviderError { category: "transient".into(), code: code.into(), title, detail: None };
        let payload: payload::Payload = match serde_json::from_value(row.payload.clone()) {
            Ok(p) => p,
            Err(e) => return Outcome::Fail(ProviderError { category: "rejected".into(), ..problem("bad-payload", format!("unreadable outbox payload: {e}")) }),
        };
        let Some(channel) = self.channels.get(&row.channel_id) else {
            return Outcome::Fail(ProviderError { category: "rejected".into(), ..problem("channel-removed", "the channel was removed".into()) });
        };
        let Some(connector) = self.connectors.get(&channel.connector) else {
            return Outcome::Retry { error: problem("connector-unavailable", format!("connector `{}` is not loaded", channel.connector)), retry_after_ms: None };
        };
        let context = match self.channels.context(&row.channel_id, &connector) {
            Ok(c) => c,
            Err(why) => return Outcome::Retry { error: problem("channel-misconfigured", why), retry_after_ms: None },
        };
        let upload = match &payload.content {
            crate::domain::outbound::OutboundContent::Media { media } => media.attachment_id.clone(),
            _ => None,
        };
        let data = match upload {
            Some(id) => match crate::store::attachments::get(&self.db, &row.tenant, &id).await {
                Ok(Some((_, bytes))) => Some(bytes),
                Ok(None) => {
                    return Outcome::Fail(ProviderError { category: "rejected".into(), ..problem("no-attachment", format!("attachment `{id}` does not exist")) });
                }
                Err(e) => return Outcome::Retry { error: problem("storage", e.to_string()), retry_after_ms: None },
            },
            None => None,
        };
        let message = payload.to_wit(&row.message_id, data.as_ref());
        match self.connectors.runtime().send(&connector, context, message).await {
            Ok(Ok(receipt)) => Outcome::Accepted { provider_id: receipt.provider_message_id, segments: receipt.segments },
            Ok(Err(error)) => {
                let (category, e, retry_after) = translate::send_error_parts(&error);
                let error = translate::provider_error(translate::category(category), e);
                match category {
                    wit::FailureCategory::RateLimited | wit::FailureCategory::Transient => Outcome::Retry { error, retry_after_ms: retry_after },
                    _ => Outcome::Fail(error),
                }
            }
            Err(call) => Outcome::Retry { error: problem("connector-failed", call.to_string()), retry_after_ms: None },
        }
    }
}
