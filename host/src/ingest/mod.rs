//! Durable ingest: a webhook's events are committed before the provider gets its reply, and an
//! agent's message with its outbox row before the API answers.
//!
//! Concurrent webhooks are group-committed: a worker takes every job waiting in the queue and
//! writes them in one transaction, so one fsync serves many requests. Each request waits for its
//! batch's commit. If a batch fails, its jobs are retried one by one so one bad job cannot sink
//! the others.
//!
//! The dispatcher's outbox claims and delivery outcomes go through the same writers, so on
//! SQLite every write of the hot paths shares one writer and one commit instead of waiting for
//! the database's write lock.

pub mod translate;

use crate::domain::content::InboundEvent;
use crate::store::conversations::{NewOutbound, SendContext, idempotent_message};
use crate::store::ingest::batch::{Added, Batch, Sighting};
use crate::store::ingest::{Events, IngestReport, IngestTarget, apply};
use crate::store::outbox::{self, Claimed, Recorded};
use crate::store::bulk::is_race;
use crate::store::direct::DirectSqlite;
use crate::store::sql::Conn;
use crate::store::{Db, Dialect, now_ms};
use sqlx::{Any, AnyConnection};
use sqlx::pool::PoolConnection;
use std::sync::Arc;
use tokio::sync::mpsc::OwnedPermit;
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

/// Most jobs written in one transaction.
const MAX_BATCH: usize = 256;

/// What one job writes.
enum Work {
    /// A webhook's events.
    Events { tenant: String, channel: String, tier: &'static str, events: Vec<InboundEvent> },
    /// An agent's message and its outbox row.
    Outbound(OutboundJob),
    /// Claim due outbox rows for a dispatcher.
    Claim { owner: String, limit: i64, lease_ms: i64 },
    /// A dispatcher's delivery outcomes.
    Record { owner: String, outcomes: Vec<(Claimed, Recorded)> },
}

/// Decides an agent's send from its conversation's send context (none when the conversation is
/// not the tenant's): the message to queue, or the caller's reason not to. It may run more than
/// once (a batch that fails is written again), so it has no side effects.
type Plan = Box<dyn Fn(Option<&SendContext>) -> Result<NewOutbound, Box<dyn std::any::Any + Send>> + Send + Sync>;

/// What a send whose plan panicked reports (see `try_write`).
struct PlanPanicked;

/// An agent's send, planned in the writer with the conversation as its transaction reads it.
struct OutboundJob {
    tenant: String,
    conversation: String,
    idempotency_key: Option<String>,
    plan: Plan,
}

/// What the writer made of an agent's send.
#[derive(Debug)]
pub struct Queued {
    /// The message's id.
    pub id: String,
    /// When it was written (Unix ms).
    pub at: i64,
    /// The message queued now; none when an earlier send with the same `Idempotency-Key` had
    /// queued `id` already.
    pub message: Option<NewOutbound>,
}

/// What one job wrote.
enum Done {
    Events(IngestReport),
    Outbound(Box<Result<Queued, Box<dyn std::any::Any + Send>>>),
    Claimed(Vec<Claimed>),
    Recorded,
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Result<Done, String>>,
}

/// How the writers pass the messages they queue to this host's dispatcher. Each outbox row is
/// written already leased to `owner` and handed over in memory once it is committed, so a fresh
/// send needs no claim query; the lease still covers a crash, as a claim's would. When the
/// dispatcher's intake is full, the row is written unleased and `wake` is notified: the
/// dispatcher claims it as any other due row.
#[derive(Clone)]
pub struct Handoff {
    /// The dispatcher's lease owner.
    pub owner: String,
    /// How long a handed-over row stays leased (Unix ms from its commit).
    pub lease_ms: i64,
    /// The dispatcher's intake; its capacity bounds how many rows wait in memory.
    pub rows: mpsc::Sender<Claimed>,
    /// Wakes the dispatcher to claim rows it was not handed.
    pub wake: Arc<Notify>,
}

/// What one transaction wrote.
struct Written {
    /// Each job's report, in order.
    reports: Vec<Done>,
    /// Queued messages leased to this host's dispatcher, with their places in its intake.
    handed: Vec<(OwnedPermit<Claimed>, Claimed)>,
    /// Whether messages were queued without a lease (the dispatcher must claim them).
    unleased: bool,
}

impl Written {
    /// After the commit: hand the leased messages over and wake the dispatcher for the others.
    fn pass_on(&mut self, handoff: Option<&Handoff>) {
        for (permit, row) in self.handed.drain(..) {
            permit.send(row);
        }
        if let (true, Some(handoff)) = (self.unleased, handoff) {
            handoff.wake.notify_one();
        }
    }
}

/// A writer's own connection, kept between batches (and replaced after a failure): its page
/// cache holds what the last batches wrote.
enum OwnConnection {
    /// PostgreSQL: a sqlx connection outside the pool, served by the writer's runtime.
    Sqlx(AnyConnection),
    /// SQLite: driven on the writer's thread (see [`crate::store::direct`]).
    Direct(DirectSqlite),
}

impl OwnConnection {
    /// Open one for `db`; none when it cannot be (the pool's connections serve instead).
    async fn open(db: &Db) -> Option<OwnConnection> {
        let opened = match db.dialect {
            Dialect::Sqlite => db.open_direct().map(|direct| direct.map(OwnConnection::Direct)),
            Dialect::Postgres => db.open_connection().await.map(|conn| Some(OwnConnection::Sqlx(conn))),
        };
        opened.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the ingest writer could not open its connection; using the pool's");
            None
        })
    }

    async fn close(self) {
        match self {
            OwnConnection::Sqlx(conn) => {
                let _ = sqlx::Connection::close(conn).await;
            }
            OwnConnection::Direct(conn) => drop(conn),
        }
    }
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
    /// Start `workers` writers on `db`; the messages they queue go to `handoff` (see
    /// [`Handoff`]), or wait unleased for a claim without one.
    pub fn start(db: Db, reopen_window_ms: i64, workers: usize, handoff: Option<Handoff>) -> std::io::Result<Ingestor> {
        let (queue, receiver) = mpsc::channel::<Job>(4096);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..workers.max(1) {
            let db = db.clone();
            let receiver = receiver.clone();
            let handoff = handoff.clone();
            let writer = async move {
                // The writer's own connection, kept between batches (and replaced after a
                // failure): its page cache holds what the last batches wrote.
                let mut own: Option<OwnConnection> = None;
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
                    if own.is_none() {
                        own = OwnConnection::open(&db).await;
                    }
                    let healthy = write_batch(&db, own.as_mut(), reopen_window_ms, handoff.as_ref(), batch).await;
                    if !healthy && let Some(broken) = own.take() {
                        broken.close().await;
                    }
                }
            };
            // Each writer runs on a thread of its own: the steps of a transaction follow one
            // another without waiting behind the HTTP tasks for a turn on the shared workers,
            // and every request waits for that transaction.
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            std::thread::Builder::new().name("ingest-writer".into()).spawn(move || runtime.block_on(writer))?;
        }
        Ok(Ingestor { queue })
    }

    async fn submit(&self, work: Work) -> Result<Done, IngestError> {
        let (reply, wait) = oneshot::channel();
        self.queue.send(Job { work, reply }).await.map_err(|_| IngestError("the ingest queue is closed".into()))?;
        wait.await.map_err(|_| IngestError("the ingest worker stopped".into()))?.map_err(IngestError)
    }

    /// Commit one webhook's events; returns once they are durable.
    pub async fn commit(&self, tenant: &str, channel: &str, tier: &'static str, events: Vec<InboundEvent>) -> Result<IngestReport, IngestError> {
        if events.is_empty() {
            return Ok(IngestReport::default());
        }
        let work = Work::Events { tenant: tenant.into(), channel: channel.into(), tier, events };
        let Done::Events(report) = self.submit(work).await? else { unreachable!("events jobs report events") };
        crate::failpoints::check(crate::failpoints::Point::IngestAfterCommit).await;
        Ok(report)
    }

    /// Queue an agent's message into `conversation` with its outbox row; returns once durable.
    /// `plan` runs in the writer's transaction with what sending into the conversation needs
    /// (none when it is not `tenant`'s), so the policy it checks holds for the state the message
    /// is written against; its error comes back as it is, with nothing written. An
    /// `idempotency_key` seen before returns the first message's id, without planning.
    pub async fn queue_outbound<E: Send + 'static>(
        &self,
        tenant: &str,
        conversation: &str,
        idempotency_key: Option<String>,
        plan: impl Fn(Option<&SendContext>) -> Result<NewOutbound, E> + Send + Sync + 'static,
    ) -> Result<Result<Queued, E>, IngestError> {
        let plan: Plan = Box::new(move |context| plan(context).map_err(|e| Box::new(e) as Box<dyn std::any::Any + Send>));
        let job = OutboundJob { tenant: tenant.into(), conversation: conversation.into(), idempotency_key, plan };
        let Done::Outbound(done) = self.submit(Work::Outbound(job)).await? else { unreachable!("outbound jobs report outbound") };
        match *done {
            Ok(queued) => Ok(Ok(queued)),
            Err(refusal) if refusal.is::<PlanPanicked>() => Err(IngestError("planning the message failed; nothing was queued".into())),
            Err(refusal) => Ok(Err(*refusal.downcast::<E>().expect("a plan's error is of its own type"))),
        }
    }

    /// Claim up to `limit` due outbox rows for `owner`, leased for `lease_ms`.
    pub async fn claim_outbox(&self, owner: &str, limit: i64, lease_ms: i64) -> Result<Vec<Claimed>, IngestError> {
        let Done::Claimed(rows) = self.submit(Work::Claim { owner: owner.into(), limit, lease_ms }).await? else {
            unreachable!("claims report claimed rows")
        };
        Ok(rows)
    }

    /// Record delivery outcomes of rows `owner` claimed; returns once durable.
    pub async fn record_outcomes(&self, owner: &str, outcomes: Vec<(Claimed, Recorded)>) -> Result<(), IngestError> {
        self.submit(Work::Record { owner: owner.into(), outcomes }).await.map(|_| ())
    }
}

/// How many times a job that lost a race on its own (see [`is_race`]) is tried again before its
/// request gets an error.
const SOLO_RETRIES: usize = 2;

/// Write a batch on `conn` (the writer's own connection, if it has one); false when a write
/// failed for another reason than a lost race, so the writer takes a fresh connection.
async fn write_batch(db: &Db, mut conn: Option<&mut OwnConnection>, reopen_window_ms: i64, handoff: Option<&Handoff>, batch: Vec<Job>) -> bool {
    if batch.len() > 1 {
        let mut result = try_write(db, conn.as_deref_mut(), reopen_window_ms, handoff, &batch).await;
        // Two writers that plan the same new customer at once: the loser tries again and finds
        // the winner's rows.
        if let Err(e) = &result
            && is_race(e)
        {
            result = try_write(db, conn.as_deref_mut(), reopen_window_ms, handoff, &batch).await;
        }
        match result {
            Ok(mut written) => {
                written.pass_on(handoff);
                for (job, report) in batch.into_iter().zip(written.reports) {
                    let _ = job.reply.send(Ok(report));
                }
                return true;
            }
            Err(e) => tracing::warn!(jobs = batch.len(), error = %e, "group commit failed; writing its jobs one by one"),
        }
    }
    let mut healthy = true;
    for job in batch {
        let mut result = try_write(db, conn.as_deref_mut(), reopen_window_ms, handoff, std::slice::from_ref(&job)).await;
        for _ in 0..SOLO_RETRIES {
            match &result {
                Err(e) if is_race(e) => result = try_write(db, conn.as_deref_mut(), reopen_window_ms, handoff, std::slice::from_ref(&job)).await,
                _ => break,
            }
        }
        healthy &= result.as_ref().map_or_else(is_race, |_| true);
        let report = result.map(|mut written| {
            written.pass_on(handoff);
            written.reports.remove(0)
        });
        let _ = job.reply.send(report.map_err(|e| e.to_string()));
    }
    healthy
}

/// Whether every event of a webhook is a message (or typing, which is not stored): such
/// webhooks, the common case, are written set-based with the rest of their batch.
fn only_messages(events: &[InboundEvent]) -> bool {
    events.iter().all(|e| matches!(e, InboundEvent::Message(_) | InboundEvent::Typing { .. }))
}

/// Write `jobs` in one transaction on `conn` (the writer's own connection, if it has one).
async fn try_write(db: &Db, conn: Option<&mut OwnConnection>, reopen_window_ms: i64, handoff: Option<&Handoff>, jobs: &[Job]) -> sqlx::Result<Written> {
    match db.dialect {
        Dialect::Postgres => {
            let mut tx = match conn {
                Some(OwnConnection::Sqlx(conn)) => sqlx::Connection::begin(conn).await?,
                _ => db.begin_write().await?,
            };
            let written = write_jobs(&mut Conn::Pooled(&mut tx), db.dialect, None, reopen_window_ms, handoff, jobs).await?;
            crate::failpoints::check(crate::failpoints::Point::IngestBeforeCommit).await;
            tx.commit().await?;
            Ok(written)
        }
        // SQLite: every statement is a hand-off to the connection's thread, so the transaction
        // is begun by the batch's first round of reads instead of a hand-off of its own, and
        // ended by hand.
        Dialect::Sqlite => {
            let mut acquired: Option<PoolConnection<Any>> = None;
            let mut conn = match conn {
                Some(OwnConnection::Direct(conn)) => Conn::Direct(conn),
                Some(OwnConnection::Sqlx(conn)) => Conn::Pooled(conn),
                None => Conn::Pooled(acquired.insert(db.pool.acquire().await?)),
            };
            let result = match write_jobs(&mut conn, db.dialect, Some("BEGIN IMMEDIATE"), reopen_window_ms, handoff, jobs).await {
                Ok(written) => {
                    crate::failpoints::check(crate::failpoints::Point::IngestBeforeCommit).await;
                    conn.execute("COMMIT", &[]).await.map(|_| written)
                }
                Err(e) => Err(e),
            };
            if result.is_err()
                && let Err(stuck) = roll_back(&mut conn).await
            {
                // A connection whose transaction could not be ended must not serve anyone else.
                if let Some(acquired) = acquired {
                    let _ = acquired.close().await;
                }
                return Err(stuck);
            }
            result
        }
    }
}

/// End a failed SQLite transaction, if one is open.
async fn roll_back(conn: &mut Conn<'_>) -> sqlx::Result<()> {
    if let Conn::Direct(direct) = conn
        && !direct.in_transaction()
    {
        return Ok(());
    }
    match conn.execute("ROLLBACK", &[]).await {
        Err(e) if !e.to_string().contains("no transaction is active") => Err(e),
        _ => Ok(()),
    }
}

/// The body of [`try_write`]: every job's writes on `tx`, whose transaction `opening` begins
/// when given (it runs with the batch's first round of reads).
async fn write_jobs(
    tx: &mut Conn<'_>,
    dialect: Dialect,
    opening: Option<&'static str>,
    reopen_window_ms: i64,
    handoff: Option<&Handoff>,
    jobs: &[Job],
) -> sqlx::Result<Written> {
    let now = now_ms();
    let mut handed = Vec::new();
    let mut unleased = false;
    // On PostgreSQL, stream events are collected and written in one insert at the end; SQLite
    // writes them with the statements that make them.
    let stream = match dialect {
        Dialect::Postgres => Events::deferred(),
        Dialect::Sqlite => Events::Now,
    };
    let targets: Vec<Option<IngestTarget<'_>>> = jobs
        .iter()
        .map(|job| match &job.work {
            Work::Events { tenant, channel, tier, .. } => {
                Some(IngestTarget { tenant, channel, now_ms: now, reopen_window_ms, tier, events: &stream })
            }
            _ => None,
        })
        .collect();
    let mut reports: Vec<Option<Done>> = jobs.iter().map(|_| None).collect();

    // Webhooks of messages and agents' messages: planned together, written set-based.
    let mut batch = Batch::new(now);
    let mut sightings = Vec::new();
    let sends: Vec<&str> = jobs
        .iter()
        .filter_map(|job| match &job.work {
            Work::Outbound(send) => Some(send.conversation.as_str()),
            _ => None,
        })
        .collect();
    for (job, target) in jobs.iter().zip(&targets) {
        if let (Work::Events { events, .. }, Some(target)) = (&job.work, target)
            && only_messages(events)
        {
            sightings.extend(events.iter().filter_map(|e| match e {
                InboundEvent::Message(m) => Some(Sighting::message(target, m)),
                _ => None,
            }));
        }
    }
    batch.prefetch(tx, opening, &sightings, &sends).await?;
    for ((job, target), report) in jobs.iter().zip(&targets).zip(reports.iter_mut()) {
        match (&job.work, target) {
            (Work::Events { events, .. }, Some(target)) if only_messages(events) => {
                let mut counts = IngestReport::default();
                for event in events {
                    if let InboundEvent::Message(m) = event {
                        match batch.add_message(target, m) {
                            Added::New => counts.messages += 1,
                            Added::Duplicate => counts.duplicates += 1,
                        }
                    }
                }
                *report = Some(Done::Events(counts));
            }
            (Work::Outbound(send), _) => {
                let earlier = match &send.idempotency_key {
                    Some(key) => idempotent_message(tx, &send.tenant, key).await?,
                    None => None,
                };
                let done = match earlier {
                    Some(id) => Ok(Queued { id, at: now, message: None }),
                    // A plan that panics fails its own send, not the writer that serves every request.
                    None => {
                        let context = batch.send_context(&send.tenant, &send.conversation);
                        let planned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (send.plan)(context)))
                            .unwrap_or_else(|_| Err(Box::new(PlanPanicked)));
                        planned.map(|message| {
                            // Leased to this host's dispatcher if its intake has room.
                            let place = handoff.and_then(|h| h.rows.clone().try_reserve_owned().ok().map(|permit| (h, permit)));
                            let lease = place.as_ref().map(|(h, _)| (h.owner.as_str(), now + h.lease_ms));
                            let id = batch.add_outbound(&message, send.idempotency_key.as_deref(), lease);
                            match place {
                                Some((h, permit)) => {
                                    let row = Claimed {
                                        message_id: id.clone(),
                                        tenant: message.tenant.clone(),
                                        channel_id: message.context.channel_id.clone(),
                                        payload: message.payload.clone(),
                                        attempts: 0,
                                        lease_until: now + h.lease_ms,
                                    };
                                    handed.push((permit, row));
                                }
                                None => unleased = true,
                            }
                            Queued { id, at: now, message: Some(message) }
                        })
                    }
                };
                *report = Some(Done::Outbound(Box::new(done)));
            }
            _ => {}
        }
    }
    batch.flush(tx, &stream).await?;

    // Everything else (statuses, consent, reactions, calls), event by event, after them; then
    // delivery outcomes, and last the claims, which see the messages queued above.
    for ((job, target), report) in jobs.iter().zip(&targets).zip(reports.iter_mut()) {
        if let (Work::Events { events, .. }, Some(target), None) = (&job.work, target, &report) {
            *report = Some(Done::Events(apply(tx, target, events).await?));
        }
    }
    for (job, report) in jobs.iter().zip(reports.iter_mut()) {
        if let Work::Record { owner, outcomes } = &job.work {
            outbox::record(tx, &stream, owner, outcomes, now).await?;
            *report = Some(Done::Recorded);
        }
    }
    for (job, report) in jobs.iter().zip(reports.iter_mut()) {
        if let Work::Claim { owner, limit, lease_ms } = &job.work {
            *report = Some(Done::Claimed(outbox::claim(tx, dialect, owner, *limit, *lease_ms, now).await?));
        }
    }

    stream.flush(tx).await?;
    let reports = reports.into_iter().map(|r| r.expect("every job was written")).collect();
    Ok(Written { reports, handed, unleased })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_plan_that_panics_fails_its_send_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("w.db").display())).await.unwrap();
        let writer = Ingestor::start(db, 0, 1, None).unwrap();
        let failed = writer.queue_outbound("acme", "c-1", None, |_| -> Result<NewOutbound, &'static str> { panic!("a bug in a plan") }).await;
        assert!(failed.unwrap_err().to_string().contains("nothing was queued"));
        // The writer still serves: an unknown conversation reaches the plan with no context.
        let refused = writer.queue_outbound("acme", "c-1", None, |context| match context {
            None => Err("no such conversation"),
            Some(_) => panic!("the conversation does not exist"),
        });
        assert_eq!(refused.await.unwrap().unwrap_err(), "no such conversation");
    }

    fn message(id: &str) -> InboundEvent {
        use crate::domain::content::{Identity, Part, ReportedMessage};
        InboundEvent::Message(ReportedMessage {
            provider_message_id: id.into(),
            outbound: false,
            contact: Identity { provider_id: "cust-1".into(), display_name: None, phone: None },
            timestamp_ms: None,
            parts: vec![Part::Text { text: "hello".into() }],
            reply_to: None,
            segments: None,
            extra: serde_json::json!({}),
        })
    }

    #[tokio::test]
    async fn without_a_connection_of_its_own_the_writer_writes_through_the_pool() {
        // The writer's own SQLite connection may fail to open (it then warns and goes on): its
        // batches go through a pooled sqlx connection, as multi-statement scripts.
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("w.db").display())).await.unwrap();
        let mut jobs = Vec::new();
        let mut replies = Vec::new();
        for id in ["m-1", "m-2", "m-1"] {
            let (reply, wait) = oneshot::channel();
            let work = Work::Events { tenant: "acme".into(), channel: "demo".into(), tier: "immediate", events: vec![message(id)] };
            jobs.push(Job { work, reply });
            replies.push(wait);
        }
        assert!(write_batch(&db, None, 0, None, jobs).await, "the batch was written");
        let mut reports = Vec::new();
        for wait in replies {
            let Ok(Done::Events(report)) = wait.await.unwrap() else { panic!("an events report") };
            reports.push((report.messages, report.duplicates));
        }
        assert_eq!(reports, vec![(1, 0), (1, 0), (0, 1)], "the repeated message is a duplicate");
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages").fetch_one(&db.pool).await.unwrap();
        assert_eq!(stored, 2);
        let conversations: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM conversations WHERE first_inbound_at IS NOT NULL AND last_inbound_at IS NOT NULL")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert_eq!(conversations, 1, "one customer, one conversation, opened with its first message's times");
    }

    #[tokio::test]
    async fn a_failed_sqlite_batch_leaves_nothing_and_the_next_one_commits() {
        // The SQLite writer begins and ends its transactions by hand: a batch that fails half
        // way is rolled back, and its connection serves the next batch.
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("w.db").display())).await.unwrap();
        let writer = Ingestor::start(db.clone(), 0, 1, None).unwrap();
        sqlx::query("ALTER TABLE events RENAME TO events_away").execute(&db.pool).await.unwrap();
        let failed = writer.commit("acme", "demo", "immediate", vec![message("m-1")]).await;
        assert!(failed.is_err(), "the stream events could not be written");
        let count = || async { sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM messages").fetch_one(&db.pool).await.unwrap() };
        assert_eq!(count().await, 0, "nothing of the failed batch was kept");
        sqlx::query("ALTER TABLE events_away RENAME TO events").execute(&db.pool).await.unwrap();
        let report = writer.commit("acme", "demo", "immediate", vec![message("m-1")]).await.unwrap();
        assert_eq!(report.messages, 1);
        assert_eq!(count().await, 1);
    }
}
