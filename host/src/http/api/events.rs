//! The realtime stream for agent desks: Server-Sent Events, resumable from the last event id.
//!
//! Each event carries its sequence number as the SSE `id`. A desk that reconnects sends
//! `Last-Event-ID` (browsers do it by themselves) and gets exactly the events after it, in the
//! stream's order (see [`crate::store::events`]); ids are unique but, on PostgreSQL, need not
//! increase.

use super::auth::Caller;
use crate::http::AppState;
use crate::http::error::ApiError;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use crate::store::events::{self, Position};
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
    let tenant = caller.0.tenant;
    let after = match raw {
        Some(text) => {
            let not_ours = || ApiError::invalid("Last-Event-ID", "must be an event id from this stream, or 0 for its start");
            let seq: i64 = text.trim().parse().map_err(|_| not_ours())?;
            events::position_of(&state.db, &tenant, seq).await?.ok_or_else(not_ours)?
        }
        None => events::latest(&state.db, &tenant).await?,
    };
    let changes = state.events.subscribe();
    let start = Cursor { state, tenant, last: after, pending: VecDeque::new(), changes };
    let stream = futures::stream::unfold(start, |mut cursor| async move {
        let event = cursor.next().await;
        Some((Ok(event), cursor))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Where one stream is.
struct Cursor {
    state: AppState,
    tenant: String,
    last: Position,
    pending: VecDeque<Event>,
    changes: tokio::sync::watch::Receiver<u64>,
}

impl Cursor {
    /// The next event, waiting for one if need be. Other hosts' commits are found by the
    /// once-a-second poll; this host's wake the stream at once. After a wake that finds nothing,
    /// the stream looks again a few times shortly after: the new events may wait for an older
    /// transaction to end before a stream may deliver them.
    async fn next(&mut self) -> Event {
        let mut woken = false;
        let mut retries = 0u32;
        loop {
            if let Some(event) = self.pending.pop_front() {
                return event;
            }
            self.changes.borrow_and_update();
            match events::after(&self.state.db, &self.tenant, self.last, 500).await {
                Ok(found) if !found.is_empty() => {
                    for event in found {
                        self.last = event.position;
                        self.pending.push_back(Event::default().id(event.position.seq.to_string()).event(event.kind).data(event.data));
                    }
                }
                Ok(_) if woken && retries < STREAM_RETRIES_AFTER_WAKE => {
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(5 << retries)).await;
                }
                Ok(_) => {
                    retries = 0;
                    woken = tokio::time::timeout(Duration::from_secs(1), self.changes.changed()).await.is_ok();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event stream query failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}

/// How many times a woken stream that finds nothing looks again (after 10, 20, 40, 80 and 160 ms).
const STREAM_RETRIES_AFTER_WAKE: u32 = 5;
