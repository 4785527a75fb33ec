//! Set-based SQL for the group commit: multi-row inserts and `IN (…)` lists, so that a batch of
//! messages costs a handful of statements rather than several per message. On PostgreSQL every
//! statement is a round trip, and on SQLite through sqlx a hand-off to the connection's worker
//! thread; the ingest writer's own SQLite connection (see [`super::direct`]) saves neither, but
//! still prepares and binds far fewer statements.

use super::sql::{Conn, Row, bound};

/// The most values bound in one statement. SQLite allows 32,766 and PostgreSQL 65,535; staying
/// well below both keeps statements small enough to prepare quickly.
const MAX_BINDS: usize = 4_000;

/// One bound value.
#[derive(Debug, Clone)]
pub enum Value {
    /// Text.
    Text(String),
    /// Text or NULL.
    MaybeText(Option<String>),
    /// An integer.
    Int(i64),
    /// An integer or NULL.
    MaybeInt(Option<i64>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::Text(s.clone())
    }
}

impl From<Option<String>> for Value {
    fn from(s: Option<String>) -> Value {
        Value::MaybeText(s)
    }
}

impl From<Option<&str>> for Value {
    fn from(s: Option<&str>) -> Value {
        Value::MaybeText(s.map(str::to_string))
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}

impl From<Option<i64>> for Value {
    fn from(n: Option<i64>) -> Value {
        Value::MaybeInt(n)
    }
}

/// The statement as the connection wants it. Templates number their parameters `$1, $2, …` in
/// the order they appear, each once. PostgreSQL and the writer's own SQLite connection (which
/// makes them anonymous itself) take them as they are; SQLite through sqlx gets anonymous `?`s,
/// because sqlx looks up every named parameter by scanning the statement's list of names, which
/// costs O(n²) on a multi-row insert.
fn for_backend(tx: &Conn<'_>, sql: String) -> String {
    match tx {
        Conn::Pooled(_) if tx.is_sqlite() => anonymous(&sql).unwrap_or(sql),
        _ => sql,
    }
}

/// `sql` with its parameters made anonymous `?`s, when they are `$1, $2, …` in order, each
/// once (as templates number them); none otherwise (a number used twice, or out of order, must
/// keep its name). Positions then match the values' order, and neither SQLite's nor sqlx's
/// lookup of named parameters, each O(n) per parameter, is needed.
pub(super) fn anonymous(sql: &str) -> Option<String> {
    let mut out = String::with_capacity(sql.len());
    let mut next = 1usize;
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            out.push('$');
        } else {
            if after[..digits].parse::<usize>().ok()? != next {
                return None;
            }
            next += 1;
            out.push('?');
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    Some(out)
}

/// `items` (rows `width` items wide) in chunks of at most `most` rows, each a power of two rows
/// long: 37 rows go as 32, 4 and 1. A statement's text depends on its row count, so this keeps
/// the shapes a busy writer prepares to a few per statement, which stay prepared (in the
/// writer's own SQLite connection, and in sqlx's statement cache), instead of one per batch size.
fn shapes<T>(items: &[T], width: usize, most: usize) -> impl Iterator<Item = &[T]> {
    let most = most.max(1);
    let mut rest = items;
    std::iter::from_fn(move || {
        let rows = rest.len() / width;
        if rows == 0 {
            return None;
        }
        let take = 1usize << (rows.min(most).ilog2());
        let (chunk, after) = rest.split_at(take * width);
        rest = after;
        Some(chunk)
    })
}

/// `$from, $from+1, …` for `n` placeholders.
pub fn placeholders(from: usize, n: usize) -> String {
    numbered(from, n, "$", "")
}

/// `($from::text), ($from+1::text), …` for `n` keys: a `VALUES` list of one text column.
pub fn key_rows(from: usize, n: usize) -> String {
    numbered(from, n, "($", "::text)")
}

/// `n` parameter numbers from `from`, each between `before` and `after`, joined by commas.
fn numbered(from: usize, n: usize, before: &str, after: &str) -> String {
    let mut out = String::with_capacity(n * (before.len() + after.len() + 6));
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(before);
        out.push_str(&(from + i).to_string());
        out.push_str(after);
    }
    out
}

/// Rows waiting to be inserted into one table, written with as few statements as the bind
/// limit allows, in the order they were pushed.
#[derive(Debug)]
pub struct Rows {
    table: &'static str,
    columns: &'static [&'static str],
    /// What follows `VALUES …`, e.g. an `ON CONFLICT` clause.
    suffix: &'static str,
    values: Vec<Value>,
}

impl Rows {
    /// Rows for `table` with these columns; `suffix` follows the value list.
    pub fn new(table: &'static str, columns: &'static [&'static str], suffix: &'static str) -> Rows {
        Rows { table, columns, suffix, values: Vec::new() }
    }

    /// Add one row; it must have one value per column.
    pub fn push<const N: usize>(&mut self, row: [Value; N]) {
        assert_eq!(N, self.columns.len(), "a row of `{}` has {} values", self.table, self.columns.len());
        self.values.extend(row);
    }

    /// Replace the value of `column` in the waiting row `row` (counted from 0).
    pub fn set(&mut self, row: usize, column: &str, value: Value) {
        let index = self.columns.iter().position(|c| *c == column).unwrap_or_else(|| panic!("`{}` has no column `{column}`", self.table));
        self.values[row * self.columns.len() + index] = value;
    }

    /// How many rows are waiting.
    pub fn len(&self) -> usize {
        self.values.len() / self.columns.len()
    }

    /// True when no row is waiting.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Insert every waiting row; returns how many the database inserted (an `ON CONFLICT DO
    /// NOTHING` suffix may skip some).
    pub async fn insert(&self, tx: &mut Conn<'_>) -> sqlx::Result<u64> {
        let mut inserted = 0;
        for (sql, values) in self.statements() {
            let sql = for_backend(tx, sql);
            inserted += tx.execute(&sql, values).await?;
        }
        Ok(inserted)
    }

    /// The `INSERT` statements (numbered `$1 …`) and their values, one per chunk of rows.
    fn statements(&self) -> impl Iterator<Item = (String, &[Value])> {
        let width = self.columns.len();
        let per_statement = (MAX_BINDS / width).max(1);
        shapes(&self.values, width, per_statement).map(move |chunk| {
            let rows = chunk.len() / width;
            let mut sql = format!("INSERT INTO {} ({}) VALUES ", self.table, self.columns.join(", "));
            for r in 0..rows {
                if r > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                sql.push_str(&placeholders(r * width + 1, width));
                sql.push(')');
            }
            sql.push_str(self.suffix);
            (sql, chunk)
        })
    }
}

/// Statements that run together and must each change a known number of rows. On SQLite through
/// sqlx they go to the connection's thread as one multi-statement string, a single hand-off
/// instead of one per statement; elsewhere (PostgreSQL prepares statements one at a time, and the
/// writer's own SQLite connection has no hand-off to save) they run one by one. A statement that
/// changes another number of rows means another writer got there first: the script fails with
/// [`raced`] and the batch is tried again.
#[derive(Default)]
pub struct Script {
    statements: Vec<(String, Vec<Value>, u64, &'static str)>,
}

impl Script {
    /// An empty script.
    pub fn new() -> Script {
        Script::default()
    }

    /// Insert `rows`, every one of which must be inserted; `what` names a row in the error.
    pub fn insert(&mut self, rows: &Rows, what: &'static str) {
        for (sql, values) in rows.statements() {
            let count = (values.len() / rows.columns.len()) as u64;
            self.statements.push((sql, values.to_vec(), count, what));
        }
    }

    /// Run `sql` (numbered `$1 …`, each once and in order) with `values`; it must change `rows`
    /// rows.
    pub fn statement(&mut self, sql: String, values: Vec<Value>, rows: u64, what: &'static str) {
        self.statements.push((sql, values, rows, what));
    }

    /// Run `sql`, whose `{ids}` stands for a list of placeholders after the `leading` values, for
    /// every id; each id must match one row.
    pub fn for_each_id(&mut self, sql: &str, leading: &[Value], ids: &[String], what: &'static str) {
        for chunk in shapes(ids, 1, MAX_BINDS - leading.len()) {
            let statement = sql.replace("{ids}", &placeholders(leading.len() + 1, chunk.len()));
            let values = leading.iter().cloned().chain(chunk.iter().map(Value::from)).collect();
            self.statements.push((statement, values, chunk.len() as u64, what));
        }
    }

    /// Run `sql`, whose `{values}` stands for a `VALUES` list of rows `width` wide after the
    /// `leading` values, once per chunk of rows; every row must match one row. The rows' columns
    /// are `column1`, `column2`, … in both SQLite and PostgreSQL, e.g. `UPDATE t SET a =
    /// v.column2 FROM (VALUES {values}) AS v WHERE t.id = v.column1`.
    pub fn for_each_row(&mut self, sql: &str, leading: &[Value], width: usize, values: &[Value], what: &'static str) {
        let per_statement = ((MAX_BINDS - leading.len()) / width).max(1);
        for chunk in shapes(values, width, per_statement) {
            let rows: Vec<String> =
                (0..chunk.len() / width).map(|r| format!("({})", placeholders(leading.len() + r * width + 1, width))).collect();
            let statement = sql.replace("{values}", &rows.join(", "));
            let values = leading.iter().chain(chunk).cloned().collect();
            self.statements.push((statement, values, (chunk.len() / width) as u64, what));
        }
    }

    /// Run every statement, in order.
    pub async fn run(self, tx: &mut Conn<'_>) -> sqlx::Result<()> {
        if self.statements.is_empty() {
            return Ok(());
        }
        // One string takes its values in order, so every statement must be made anonymous.
        let joined = match tx {
            Conn::Pooled(conn) if conn.backend_name() == "SQLite" => self.statements.iter().map(|(sql, ..)| anonymous(sql)).collect::<Option<Vec<_>>>(),
            _ => None,
        };
        if let (Some(statements), Conn::Pooled(conn)) = (joined, &mut *tx) {
            let expected: u64 = self.statements.iter().map(|(_, _, rows, _)| rows).sum();
            let sql = statements.join(";\n");
            let values: Vec<Value> = self.statements.into_iter().flat_map(|(_, values, _, _)| values).collect();
            let changed = bound(&sql, &values).execute(&mut **conn).await?.rows_affected();
            if changed != expected {
                return Err(raced("a row of the batch"));
            }
            return Ok(());
        }
        for (sql, values, rows, what) in &self.statements {
            if tx.execute(sql, values).await? != *rows {
                return Err(raced(what));
            }
        }
        Ok(())
    }
}

/// Queries read together: on SQLite through sqlx as one multi-statement string (one hand-off to
/// the connection's thread), elsewhere one by one. Each query added gives a [`ReadId`] to find
/// its rows with once [`fetch`](Reads::fetch) has run.
#[derive(Default)]
pub struct Reads {
    /// A statement run first, in the same round (see [`Reads::open_with`]).
    opening: Option<&'static str>,
    statements: Vec<(String, Vec<Value>)>,
    /// Statement ranges, by query.
    queries: Vec<std::ops::Range<usize>>,
}

/// One query of a [`Reads`].
#[derive(Debug, Clone, Copy)]
pub struct ReadId(usize);

/// The rows of every query of a [`Reads`].
pub struct ReadRows {
    by_statement: Vec<Vec<Row>>,
    queries: Vec<std::ops::Range<usize>>,
}

impl ReadRows {
    /// The rows of one query.
    pub fn of(&self, query: ReadId) -> impl Iterator<Item = &Row> {
        self.by_statement[self.queries[query.0].clone()].iter().flatten()
    }
}

impl Reads {
    /// No queries yet.
    pub fn new() -> Reads {
        Reads::default()
    }

    /// A query (numbered `$1 …`, each once and in order) with its values.
    pub fn query(&mut self, sql: String, values: Vec<Value>) -> ReadId {
        let first = self.statements.len();
        self.statements.push((sql, values));
        self.queries.push(first..first + 1);
        ReadId(self.queries.len() - 1)
    }

    /// A query whose `{ids}` stands for a list of placeholders after the `leading` values, run
    /// once per chunk of `ids`; a `{keys}` stands for the same as `VALUES` rows, one text key
    /// each (`($2::text), ($3::text), …`).
    pub fn query_in(&mut self, sql: &str, leading: &[Value], ids: &[&str]) -> ReadId {
        let first = self.statements.len();
        for chunk in shapes(ids, 1, MAX_BINDS - leading.len()) {
            let statement = sql
                .replace("{ids}", &placeholders(leading.len() + 1, chunk.len()))
                .replace("{keys}", &key_rows(leading.len() + 1, chunk.len()));
            let values = leading.iter().cloned().chain(chunk.iter().map(|id| Value::from(*id))).collect();
            self.statements.push((statement, values));
        }
        self.queries.push(first..self.statements.len());
        ReadId(self.queries.len() - 1)
    }

    /// Run `statement` (one that returns no rows, such as `BEGIN IMMEDIATE`) before the
    /// queries, in the same round.
    pub fn open_with(&mut self, statement: &'static str) {
        self.opening = Some(statement);
    }

    /// Run every query.
    pub async fn fetch(self, tx: &mut Conn<'_>) -> sqlx::Result<ReadRows> {
        use futures::TryStreamExt;
        let mut by_statement: Vec<Vec<Row>> = Vec::with_capacity(self.statements.len() + 1);
        // One string takes its values in order, so every statement must be made anonymous.
        let joined = match tx {
            Conn::Pooled(conn) if !self.statements.is_empty() && conn.backend_name() == "SQLite" => {
                self.statements.iter().map(|(sql, _)| anonymous(sql)).collect::<Option<Vec<_>>>()
            }
            _ => None,
        };
        let (conn, statements) = match (tx, joined) {
            (Conn::Pooled(conn), Some(statements)) => (conn, statements),
            (tx, _) => {
                if let Some(statement) = self.opening {
                    tx.execute(statement, &[]).await?;
                }
                for (sql, values) in &self.statements {
                    by_statement.push(tx.fetch_all(sql, values).await?);
                }
                return Ok(ReadRows { by_statement, queries: self.queries });
            }
        };
        let sql = self.opening.into_iter().map(str::to_string).chain(statements).collect::<Vec<_>>().join(";\n");
        let values: Vec<Value> = self.statements.iter().flat_map(|(_, values)| values.iter().cloned()).collect();
        // Each statement's rows are followed by its result.
        let mut current = Vec::new();
        // sqlx 0.8 runs a multi-statement string with parameters on SQLite and means to drop
        // it (launchbadge/sqlx#3108); without it, the loop above serves SQLite too.
        #[allow(deprecated)]
        let mut stream = bound(&sql, &values).fetch_many(&mut **conn);
        while let Some(item) = stream.try_next().await? {
            match item {
                sqlx::Either::Right(row) => current.push(Row::Pooled(row)),
                sqlx::Either::Left(_) => by_statement.push(std::mem::take(&mut current)),
            }
        }
        drop(stream);
        if self.opening.is_some() && !by_statement.is_empty() {
            by_statement.remove(0);
        }
        if by_statement.len() != self.statements.len() {
            return Err(sqlx::Error::Protocol(format!("{} statements gave {} results", self.statements.len(), by_statement.len())));
        }
        Ok(ReadRows { by_statement, queries: self.queries })
    }
}

/// How a lost race begins its message (see [`raced`]).
const RACED: &str = "lost a race: ";

/// The error a batch fails with when another writer (of this host or another) committed one of
/// its rows between its reads and its writes; the ingest writer tries the batch again, and the
/// retry sees that row.
pub fn raced(what: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("{RACED}{what} was written by another writer at the same time"))
}

/// Whether `error` is a lost race (see [`raced`]), which a retry resolves.
pub fn is_race(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Protocol(message) if message.starts_with(RACED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_rows() {
        let rows: Vec<u32> = (0..74).collect();
        let sizes: Vec<usize> = shapes(&rows, 2, 100).map(|c| c.len() / 2).collect();
        assert_eq!(sizes, vec![32, 4, 1]);
        let sizes: Vec<usize> = shapes(&rows, 1, 20).map(<[u32]>::len).collect();
        assert_eq!(sizes, vec![16, 16, 16, 16, 8, 2]);
        assert_eq!(shapes(&rows[..0], 1, 20).count(), 0);
        let all: Vec<u32> = shapes(&rows, 1, 20).flatten().copied().collect();
        assert_eq!(all, rows, "every item once, in order");
    }

    #[test]
    fn placeholder_lists() {
        assert_eq!(placeholders(1, 3), "$1, $2, $3");
        assert_eq!(placeholders(4, 1), "$4");
        assert_eq!(placeholders(1, 0), "");
    }

    #[test]
    fn parameters_in_order_become_anonymous() {
        assert_eq!(anonymous("UPDATE t SET a = $1 WHERE id IN ($2, $3)").as_deref(), Some("UPDATE t SET a = ? WHERE id IN (?, ?)"));
        assert_eq!(anonymous("SELECT '$' || $1").as_deref(), Some("SELECT '$' || ?"));
        assert_eq!(anonymous("SELECT $1 WHERE $3 > 0 AND $3 < $2"), None);
        assert_eq!(anonymous("SELECT $2, $1"), None);
    }

    #[tokio::test]
    async fn statements_numbered_out_of_order_run_one_by_one_through_sqlx() {
        // Joined into one string, statements take their values in order; one that numbers its
        // parameters otherwise must not be joined, or its values would land in the wrong places.
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::Db::connect(&format!("sqlite://{}", dir.path().join("b.db").display())).await.unwrap();
        let mut conn = db.pool.acquire().await.unwrap();
        let mut tx = Conn::Pooled(&mut conn);
        tx.execute("CREATE TABLE t (a TEXT, b TEXT)", &[]).await.unwrap();
        let mut script = Script::new();
        script.statement("INSERT INTO t (a, b) VALUES ($1, $2)".into(), vec!["a1".into(), "b1".into()], 1, "a row");
        script.statement("INSERT INTO t (b, a) VALUES ($2, $1)".into(), vec!["a2".into(), "b2".into()], 1, "a row");
        script.run(&mut tx).await.unwrap();
        let mut reads = Reads::new();
        let all = reads.query("SELECT a, b FROM t WHERE a <> $2 OR a = $1 ORDER BY a".into(), vec!["a1".into(), "none".into()]);
        let rows = reads.fetch(&mut tx).await.unwrap();
        let pairs: Vec<(String, String)> = rows.of(all).map(|r| (r.get("a"), r.get("b"))).collect();
        assert_eq!(pairs, vec![("a1".into(), "b1".into()), ("a2".into(), "b2".into())]);
    }

    #[test]
    fn races_are_recognised() {
        assert!(is_race(&raced("a message")));
        assert!(!is_race(&sqlx::Error::Protocol("something else".into())));
    }

    #[test]
    fn rows_count() {
        let mut rows = Rows::new("t", &["a", "b"], "");
        assert!(rows.is_empty());
        rows.push(["x".into(), 1i64.into()]);
        rows.push(["y".into(), Value::MaybeInt(None)]);
        assert_eq!(rows.len(), 2);
        rows.set(1, "b", 7i64.into());
        assert!(matches!(rows.values[3], Value::Int(7)));
        assert!(matches!(rows.values[1], Value::Int(1)), "other rows keep their values");
    }
}
