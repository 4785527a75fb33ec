//! Durable ingest: a webhook's events are committed before the provider gets its reply.
//!
//! Concurrent webhooks are group-committed: a worker takes every job waiting in the queue and
//! writes them in one transaction, so one fsync serves many requests. Each request waits for its
//! batch's commit. If a batch fails, its jobs are retried one by one so one bad job cannot sink
//! the others.

pub mod translate;

use crate::domain::content::InboundEvent;
use crate::store::ingest::{IngestReport, IngestTarget, apply};
use crate::store::{Db, now_ms};
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

/// Most jobs written in one transaction.
const MAX_BATCH: usize = 256;

struct Job {
    tenant: String,
    channel: String,
    tier: &'static str,
    events: Vec<InboundEvent>,
    reply: oneshot::Sender<Result<IngestReport, String>>,
}

/// The ingest queue.
#[derive(Clone)]
pub struct Ingestor {
    queue: mpsc::Sender<Job>,
}

/// Why a commit failed; the webhook gets a 5xx and the provider retries.
#[derive(Debug, thiserror::Error)]
#[error("the events could not be stored: {0}")]
pub struct IngestError(pub String);

impl Ingestor {
    /// Start `workers` writers on `db`.
    pub fn start(db: Db, reopen_window_ms: i64, workers: usize) -> Ingestor {
        let (queue, receiver) = mpsc::channel::<Job>(4096);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..workers.max(1) {
            let db = db.clone();
            let receiver = receiver.clone();
            tokio::spawn(async move {
                loop {
                    let batch = {
                        let mut rx = receiver.lock().await;
                        let Some(first) = rx.recv().await else { return };
                        let mut batch = vec![first];
                        while batch.len() < MAX_BATCH {
                            match rx.try_recv() {
                                Ok(job) => batch.push(job),
                                Err(_) => break,
                            }
                        }
                        batch
                    };
                    write_batch(&db, reopen_window_ms, batch).await;
                }
            });
        }
        Ingestor { queue }
    }

    /// Commit one webhook's events; returns once they are durable.
    pub async fn commit(&self, tenant: &str, channel: &str, tier: &'static str, events: Vec<InboundEvent>) -> Result<IngestReport, IngestError> {
        if events.is_empty() {
            return Ok(IngestReport::default());
        }
        let (reply, wait) = oneshot::channel();
        let job = Job { tenant: tenant.into(), channel: channel.into(), tier, events, reply };
        self.queue.send(job).await.map_err(|_| IngestError("the ingest queue is closed".into()))?;
        let report = wait.await.map_err(|_| IngestError("the ingest worker stopped".into()))?.map_err(IngestError)?;
        crate::failpoints::check(crate::failpoints::Point::IngestAfterCommit).await;
        Ok(report)
    }
}

async fn write_batch(db: &Db, reopen_window_ms: i64, batch: Vec<Job>) {
    if batch.len() > 1 {
        match try_write(db, reopen_window_ms, &batch).await {
            Ok(reports) => {
                for (job, report) in batch.into_iter().zip(reports) {
                    let _ = job.reply.send(Ok(report));
                }
                return;
            }
            Err(e) => tracing::warn!(jobs = batch.len(), error = %e, "group commit failed; writing its jobs one by one"),
        }
    }
    for job in batch {
        let result = try_write(db, reopen_window_ms, std::slice::from_ref(&job)).await;
        let _ = job.reply.send(result.map(|mut r| r.remove(0)).map_err(|e| e.to_string()));
    }
}

async fn try_write(db: &Db, reopen_window_ms: i64, jobs: &[Job]) -> sqlx::Result<Vec<IngestReport>> {
    let now = now_ms();
    let tenants: Vec<&str> = jobs.iter().map(|j| j.tenant.as_str()).collect();
    let mut tx = db.begin_for(&tenants).await?;
    let mut reports = Vec::with_capacity(jobs.len());
    for job in jobs {
        let target = IngestTarget { tenant: &job.tenant, channel: &job.channel, now_ms: now, reopen_window_ms, tier: job.tier };
        reports.push(apply(&mut tx, &target, &job.events, db.dialect).await?);
    }
    crate::failpoints::check(crate::failpoints::Point::IngestBeforeCommit).await;
    tx.commit().await?;
    Ok(reports)
}
