//! Reading the tenant's stream events in the order a stream delivers them.
//!
//! A stream's order is (transaction, sequence number) and it reads only events of transactions
//! older than every transaction still running (see migration 4 in [`super::schema`]). Writers
//! therefore need no lock to publish events, and a reader that has passed an event can never see
//! another one appear before it. On SQLite, with one writer, the transaction is always 0 and the
//! order is the sequence number's.

use super::{Db, Dialect};
use sqlx::Row;

/// Where a stream is: the last event it delivered, or the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// The transaction of that event (0 on SQLite).
    pub tx: i64,
    /// Its sequence number, the event id clients see.
    pub seq: i64,
}

/// One stream event.
#[derive(Debug, Clone)]
pub struct StreamEvent {
    /// Where the stream is once it has delivered this event.
    pub position: Position,
    /// What happened, e.g. `message.created`.
    pub kind: String,
    /// The event's JSON.
    pub data: String,
}

/// The transaction column of `row`. PostgreSQL's xid8 has no binary form `Any` reads, so it
/// travels as text; ids stay far below `i64::MAX` (they count transactions).
fn tx_of(dialect: Dialect, row: &sqlx::any::AnyRow) -> sqlx::Result<i64> {
    match dialect {
        Dialect::Sqlite => row.try_get("tx"),
        Dialect::Postgres => {
            let text: String = row.try_get("tx")?;
            text.parse().map_err(|e| sqlx::Error::Decode(format!("transaction id `{text}`: {e}").into()))
        }
    }
}

/// The latest event a stream may deliver now: a stream that starts at the present starts
/// after it (at the start when there is none).
pub async fn latest(db: &Db, tenant: &str) -> sqlx::Result<Position> {
    let sql = match db.dialect {
        Dialect::Sqlite => "SELECT tx, seq FROM events WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1",
        Dialect::Postgres => {
            "SELECT tx::text AS tx, seq FROM events WHERE tenant_id = $1 AND tx < pg_snapshot_xmin(pg_current_snapshot())
             ORDER BY tx DESC, seq DESC LIMIT 1"
        }
    };
    let row = sqlx::query(sql).bind(tenant).fetch_optional(&db.pool).await?;
    match row {
        Some(row) => Ok(Position { tx: tx_of(db.dialect, &row)?, seq: row.try_get("seq")? }),
        None => Ok(Position::default()),
    }
}

/// The position of the tenant's event `seq`, to resume after it; `seq` 0 is the start. None
/// when the tenant has no such event.
pub async fn position_of(db: &Db, tenant: &str, seq: i64) -> sqlx::Result<Option<Position>> {
    if seq == 0 {
        return Ok(Some(Position::default()));
    }
    let sql = match db.dialect {
        Dialect::Sqlite => "SELECT tx, seq FROM events WHERE seq = $1 AND tenant_id = $2",
        Dialect::Postgres => "SELECT tx::text AS tx, seq FROM events WHERE seq = $1 AND tenant_id = $2",
    };
    let row = sqlx::query(sql).bind(seq).bind(tenant).fetch_optional(&db.pool).await?;
    row.map(|row| Ok(Position { tx: tx_of(db.dialect, &row)?, seq })).transpose()
}

/// Up to `limit` of the tenant's events after `after`, in stream order.
pub async fn after(db: &Db, tenant: &str, after: Position, limit: i64) -> sqlx::Result<Vec<StreamEvent>> {
    let rows = match db.dialect {
        Dialect::Sqlite => {
            sqlx::query("SELECT tx, seq, kind, data FROM events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
                .bind(tenant)
                .bind(after.seq)
                .bind(limit)
                .fetch_all(&db.pool)
                .await?
        }
        Dialect::Postgres => {
            sqlx::query(
                "SELECT tx::text AS tx, seq, kind, data FROM events
                 WHERE tenant_id = $1 AND (tx, seq) > ($2::text::xid8, $3) AND tx < pg_snapshot_xmin(pg_current_snapshot())
                 ORDER BY tx, seq LIMIT $4",
            )
            .bind(tenant)
            .bind(after.tx.to_string())
            .bind(after.seq)
            .bind(limit)
            .fetch_all(&db.pool)
            .await?
        }
    };
    rows.iter()
        .map(|row| {
            Ok(StreamEvent {
                position: Position { tx: tx_of(db.dialect, row)?, seq: row.try_get("seq")? },
                kind: row.try_get("kind")?,
                data: row.try_get("data")?,
            })
        })
        .collect()
}
