//! The realtime stream for agent desks: Server-Sent Events, resumable from the last event id.
//!
//! Each event carries its sequence number as the SSE `id`. A desk that reconnects sends
//! `Last-Event-ID` (browsers do it by themselves) and gets exactly the events after it.

use super::auth::Caller;
use crate::http::AppState;
use crate::http::error::ApiError;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use sqlx::Row;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

/// Stream the tenant's events after `Last-Event-ID` (or `?after=`), then live ones. Without
/// either, the stream starts at the present.
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let raw = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(str::to_string).or_else(|| query.get("after").cloned());
    let after: i64 = match raw {
        Some(text) => text.trim().parse().map_err(|_| ApiError::invalid("Last-Event-ID", "must be an event id from this stream"))?,
        None => latest(&state, &caller.0.tenant).await?,
    };
    let changes = state.events.subscribe();
    let start = Cursor { state, tenant: caller.0.tenant, last: after, pending: VecDeque::new(), changes };
    let stream = futures::stream::unfold(start, |mut cursor| async move {
        let event = cursor.next().await;
        Some((Ok(event), cursor))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

async fn latest(state: &AppState, tenant: &str) -> Result<i64, ApiError> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM events WHERE tenant_id = $1").bind(tenant).fetch_one(&state.db.pool).await?;
    Ok(max.unwrap_or(0))
}

/// Where one stream is.
struct Cursor {
    state: AppState,
    tenant: String,
    last: i64,
    pending: VecDeque<Event>,
    changes: tokio::sync::watch::Receiver<u64>,
}

impl Cursor {
    /// The next event, waiting for one if need be. Other hosts' commits are found by the
    /// once-a-second poll; this host's wake the stream at once.
    async fn next(&mut self) -> Event {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return event;
            }
            self.changes.borrow_and_update();
            let rows = sqlx::query("SELECT seq, kind, data FROM events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT 500")
                .bind(&self.tenant)
                .bind(self.last)
                .fetch_all(&self.state.db.pool)
                .await;
            match rows {
                Ok(rows) if !rows.is_empty() => {
                    for r in &rows {
                        let seq: i64 = r.get("seq");
                        self.last = seq;
                        self.pending.push_back(
                            Event::default().id(seq.to_string()).event(r.get::<String, _>("kind")).data(r.get::<String, _>("data")),
                        );
                    }
                }
                Ok(_) => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), self.changes.changed()).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event stream query failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}
