//! The dispatcher: takes due messages from the outbox, hands them to their channel's connector,
//! and records the receipt, a retry, or the failure with the provider's reason.

pub mod media;
pub mod payload;

use crate::channels::ChannelDirectory;
use crate::config::{DeliveryConfig, defaults};
use crate::domain::backoff::retry_delay_ms;
use crate::domain::content::ProviderError;
use crate::ingest::{Handoff, Ingestor, translate};
use crate::runtime::bindings::v0_1::switchboard::connector::types as wit;
use crate::runtime::registry::ConnectorRegistry;
use crate::store::outbox::{Claimed, Recorded};
use crate::store::{Db, now_ms};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

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

/// The dispatcher's side of a [`Handoff`]: the messages this host's writers queued and leased to it.
pub struct Intake {
    owner: String,
    rows: mpsc::Receiver<Claimed>,
    wake: Arc<Notify>,
}

/// A new dispatcher's lease owner, and the way its host's writers hand it what they queue.
pub fn handoff(config: &DeliveryConfig) -> (Handoff, Intake) {
    let owner = format!("host-{}", uuid::Uuid::new_v4());
    let (sender, rows) = mpsc::channel(config.concurrency * defaults::DISPATCH_INTAKE_BATCHES);
    let wake = Arc::new(Notify::new());
    let handoff = Handoff { owner: owner.clone(), lease_ms: config.lease_ms as i64, rows: sender, wake: wake.clone() };
    (handoff, Intake { owner, rows, wake })
}

/// A send in flight: the row and what came of it.
type Attempt = futures::future::BoxFuture<'static, (Claimed, Outcome)>;

impl Dispatcher {
    /// Start the dispatcher on what `intake` receives and on the due rows it claims. Claims and
    /// outcomes are written by `writer`, in the group commit of the host's other writes.
    pub fn spawn(
        db: Db,
        writer: Ingestor,
        connectors: Arc<ConnectorRegistry>,
        channels: Arc<ChannelDirectory>,
        config: DeliveryConfig,
        intake: Intake,
    ) {
        let Intake { owner, rows, wake } = intake;
        let dispatcher = Arc::new(Dispatcher { db, writer, connectors, channels, config, owner, wake, unhealthy: Default::default() });
        tokio::spawn(async move { dispatcher.run(rows).await });
    }

    /// Keep up to `concurrency` sends in flight: first the messages the writers hand over, then
    /// due rows claimed from the outbox (retries, rows queued while the intake was full, and
    /// other hosts' expired leases). Outcomes are recorded in groups, one group at a time, while
    /// the sends go on.
    async fn run(self: Arc<Self>, mut handed: mpsc::Receiver<Claimed>) {
        let poll = Duration::from_millis(self.config.poll_interval_ms);
        let limit = self.config.concurrency;
        let mut sending: FuturesUnordered<Attempt> = FuturesUnordered::new();
        let mut outcomes: Vec<(Claimed, Recorded)> = Vec::new();
        let mut recording: Option<tokio::task::JoinHandle<()>> = None;
        let mut claiming: Option<tokio::task::JoinHandle<(usize, Vec<Claimed>)>> = None;
        // Due rows are claimed at start, when woken, after a claim that filled the room it was
        // given, and at least once per poll interval.
        let mut claim_wanted = true;
        let mut last_claim = tokio::time::Instant::now();
        loop {
            while sending.len() < limit {
                match handed.try_recv() {
                    Ok(row) => self.start(&mut sending, row),
                    Err(_) => break,
                }
            }
            if claiming.is_none() && sending.len() < limit && (claim_wanted || last_claim.elapsed() >= poll) {
                claim_wanted = false;
                last_claim = tokio::time::Instant::now();
                let this = self.clone();
                let room = limit - sending.len();
                claiming = Some(tokio::spawn(async move { (room, this.claim(room).await) }));
            }
            if recording.is_none() && !outcomes.is_empty() {
                let this = self.clone();
                let records = std::mem::take(&mut outcomes);
                recording = Some(tokio::spawn(async move {
                    let rows = records.len();
                    this.update_health(&records).await;
                    if let Err(e) = this.writer.record_outcomes(&this.owner, records).await {
                        tracing::error!(error = %e, rows, "could not record delivery outcomes; the leases will expire and the rows will be retried");
                    }
                }));
            }
            tokio::select! {
                Some((row, outcome)) = sending.next(), if !sending.is_empty() => {
                    let recorded = self.decide(&row, outcome);
                    outcomes.push((row, recorded));
                }
                Some(row) = handed.recv(), if sending.len() < limit => self.start(&mut sending, row),
                claimed = async { claiming.as_mut().expect("guarded").await }, if claiming.is_some() => {
                    claiming = None;
                    let (room, claimed) = claimed.unwrap_or_default();
                    // A claim that filled its room may have left due rows behind.
                    claim_wanted = claimed.len() >= room;
                    for row in claimed {
                        self.start(&mut sending, row);
                    }
                }
                _ = async { recording.as_mut().expect("guarded").await }, if recording.is_some() => recording = None,
                _ = self.wake.notified() => claim_wanted = true,
                _ = tokio::time::sleep_until(last_claim + poll) => {}
            }
        }
    }

    /// Start sending `row`. A handed-over row that waited so long that its lease could run out
    /// during the send is left to a claim after the lease ends, so no other host can take it
    /// while it is being sent.
    fn start(self: &Arc<Self>, sending: &mut FuturesUnordered<Attempt>, row: Claimed) {
        if row.lease_until - now_ms() < self.config.lease_ms as i64 / 2 {
            tracing::warn!(message = %row.message_id, "a queued message waited too long for the dispatcher; it will be claimed when its lease ends");
            return;
        }
        let this = self.clone();
        sending.push(Box::pin(async move {
            let outcome = this.attempt(&row).await;
            (row, outcome)
        }));
    }

    /// Claim up to `limit` due rows; none when the claim fails (it is logged, and the next poll
    /// tries again).
    async fn claim(&self, limit: usize) -> Vec<Claimed> {
        match self.writer.claim_outbox(&self.owner, limit as i64, self.config.lease_ms as i64).await {
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
                    let recovered = self.unhealthy.lock().unwrap().remove(&row.channel_id);
                    if recovered {
                        let _ = crate::store::channels::set_health(&self.db, &row.channel_id, None).await;
                    }
                }
                _ => {}
            }
        }
    }

    async fn attempt(&self, row: &Claimed) -> Outcome {
        let problem = |code: &str, title: String| ProviderError { category: "transient".into(), code: code.into(), title, detail: None };
        let payload: payload::Payload = match payload::Payload::deserialize(&row.payload) {
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
        crate::failpoints::check(crate::failpoints::Point::DispatchBeforeSend).await;
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
