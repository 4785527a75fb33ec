//! A SQLite connection driven on the caller's own thread: the ingest writer's.
//!
//! Through sqlx, every statement is a message to the connection's worker thread, and every bound
//! value and every row value is copied on the way there and back (twice for a row: once out of
//! SQLite, once into an `AnyRow`). The writer already runs on a thread of its own and does
//! nothing but write, so on SQLite it drives its connection directly: statements are prepared
//! once and kept, values are bound without copies, and rows are read straight out of SQLite.
//! Everything else in the host keeps using the sqlx pool.

use super::bulk::Value;
use super::sql::Cell;
use libsqlite3_sys as ffi;
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_int};
use std::ptr::NonNull;
use std::sync::Arc;

/// Most statements kept prepared. Multi-row statements differ with their row count, so a busy
/// writer prepares many; past this many, the cache starts over.
const MAX_PREPARED: usize = 256;

/// An open SQLite connection used by one thread at a time.
pub struct DirectSqlite {
    db: NonNull<ffi::sqlite3>,
    prepared: HashMap<String, Prepared>,
}

// SAFETY: the connection is opened in SQLite's multi-thread mode (`SQLITE_OPEN_NOMUTEX`), in
// which a connection may move between threads as long as no two use it at once; `&mut self` on
// every method that touches it guarantees that.
unsafe impl Send for DirectSqlite {}

/// A prepared statement, with what binding and reading it needs.
struct Prepared {
    stmt: NonNull<ffi::sqlite3_stmt>,
    /// For each parameter position, the index of its value: the statement's `$N` less one (or
    /// its position, for an anonymous `?`).
    params: Vec<usize>,
    /// The result's column names.
    columns: Arc<[String]>,
}

/// A row read by a [`DirectSqlite`].
#[derive(Debug, Clone)]
pub struct DirectRow {
    columns: Arc<[String]>,
    cells: Vec<Cell>,
}

impl DirectRow {
    /// The value of the column named `name`, if there is one.
    pub fn cell(&self, name: &str) -> Option<&Cell> {
        self.columns.iter().position(|c| c == name).map(|i| &self.cells[i])
    }
}

impl DirectSqlite {
    /// Open the database file at `path` (which must exist) and set it up with `pragmas`.
    pub fn open(path: &std::path::Path, pragmas: &[&str]) -> sqlx::Result<DirectSqlite> {
        let name = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| sqlx::Error::Configuration("the SQLite path holds a NUL byte".into()))?;
        let mut db = std::ptr::null_mut();
        let flags = ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX;
        // SAFETY: `name` is a NUL-terminated string and `db` a place for the handle.
        let rc = unsafe { ffi::sqlite3_open_v2(name.as_ptr(), &mut db, flags, std::ptr::null()) };
        let Some(handle) = NonNull::new(db) else {
            return Err(sqlx::Error::Configuration(format!("SQLite could not open {} (code {rc})", path.display()).into()));
        };
        let mut conn = DirectSqlite { db: handle, prepared: HashMap::new() };
        if rc != ffi::SQLITE_OK {
            return Err(conn.error());
        }
        // SAFETY: the handle is open.
        unsafe { ffi::sqlite3_extended_result_codes(conn.db.as_ptr(), 1) };
        for pragma in pragmas {
            conn.query(pragma, &[])?;
        }
        Ok(conn)
    }

    /// Run `sql` with `values` (for `$1`, `$2`, …); returns how many rows it changed.
    pub fn execute(&mut self, sql: &str, values: &[Value]) -> sqlx::Result<u64> {
        self.run(sql, values, |_| {})?;
        // SAFETY: the handle is open.
        Ok(unsafe { ffi::sqlite3_changes64(self.db.as_ptr()) } as u64)
    }

    /// Run `sql` with `values` and return its rows.
    pub fn query(&mut self, sql: &str, values: &[Value]) -> sqlx::Result<Vec<DirectRow>> {
        let mut rows = Vec::new();
        self.run(sql, values, |row| rows.push(row))?;
        Ok(rows)
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        // SAFETY: the handle is open.
        unsafe { ffi::sqlite3_get_autocommit(self.db.as_ptr()) == 0 }
    }

    /// Step `sql` to its end, handing each row to `row`.
    fn run(&mut self, sql: &str, values: &[Value], mut row: impl FnMut(DirectRow)) -> sqlx::Result<()> {
        let db = self.db;
        let prepared = self.prepare(sql)?;
        let stmt = prepared.stmt.as_ptr();
        let result = (|| {
            for (position, &index) in prepared.params.iter().enumerate() {
                let Some(value) = values.get(index) else {
                    return Err(sqlx::Error::Protocol(format!("the statement has ${} but {} values were bound: {sql}", index + 1, values.len())));
                };
                // SAFETY: `stmt` is a live statement and `position` one of its parameters. Text is
                // bound without a copy (`SQLITE_STATIC`): `values` outlives the steps below, and
                // the bindings are cleared before this function returns.
                let rc = unsafe { bind(stmt, position as c_int + 1, value) };
                if rc != ffi::SQLITE_OK {
                    return Err(error_of(db));
                }
            }
            loop {
                // SAFETY: `stmt` is a live statement with every parameter bound.
                match unsafe { ffi::sqlite3_step(stmt) } {
                    ffi::SQLITE_ROW => row(DirectRow { columns: prepared.columns.clone(), cells: read_row(stmt, prepared.columns.len()) }),
                    ffi::SQLITE_DONE => return Ok(()),
                    _ => return Err(error_of(db)),
                }
            }
        })();
        // SAFETY: `stmt` is live; resetting it ends its run and clearing drops the borrowed text.
        unsafe {
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
        }
        result
    }

    /// The prepared statement for `sql`, prepared now if it is not kept yet.
    fn prepare(&mut self, sql: &str) -> sqlx::Result<&Prepared> {
        if !self.prepared.contains_key(sql) {
            if self.prepared.len() >= MAX_PREPARED {
                self.prepared.clear();
            }
            let prepared = self.prepare_new(sql)?;
            self.prepared.insert(sql.to_string(), prepared);
        }
        Ok(&self.prepared[sql])
    }

    fn prepare_new(&mut self, original: &str) -> sqlx::Result<Prepared> {
        // SQLite finds each named parameter by scanning the names before it, so a statement of
        // thousands of `$N`s (a multi-row insert) costs O(n²) to prepare and to map; numbered in
        // order, each once, they are the same as anonymous `?`s, which cost nothing extra.
        let anonymous = super::bulk::anonymous(original);
        let sql = anonymous.as_deref().unwrap_or(original);
        let mut stmt = std::ptr::null_mut();
        let mut tail = std::ptr::null();
        // SAFETY: `sql` is valid for its length, and `stmt` and `tail` are places for the results.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.db.as_ptr(),
                sql.as_ptr().cast(),
                sql.len() as c_int,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                &mut tail,
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.error());
        }
        let Some(stmt) = NonNull::new(stmt) else {
            return Err(sqlx::Error::Protocol(format!("no statement in `{sql}`")));
        };
        // A second statement in the string would be silently ignored: refuse it instead.
        let consumed = tail as usize - sql.as_ptr() as usize;
        if !sql[consumed.min(sql.len())..].trim().trim_matches(';').trim().is_empty() {
            // SAFETY: the statement was just prepared and is not kept.
            unsafe { ffi::sqlite3_finalize(stmt.as_ptr()) };
            return Err(sqlx::Error::Protocol(format!("one statement at a time: `{sql}`")));
        }
        let stmt_ptr = stmt.as_ptr();
        // SAFETY: `stmt` is live; names are NUL-terminated strings owned by it.
        let (params, columns) = unsafe {
            let count = ffi::sqlite3_bind_parameter_count(stmt_ptr);
            let mut params = Vec::with_capacity(count as usize);
            for position in 1..=count {
                if anonymous.is_some() {
                    params.push(position as usize - 1);
                    continue;
                }
                let name = ffi::sqlite3_bind_parameter_name(stmt_ptr, position);
                let numbered = (!name.is_null())
                    .then(|| CStr::from_ptr(name).to_str().ok())
                    .flatten()
                    .and_then(|n| n.strip_prefix('$').or_else(|| n.strip_prefix('?')))
                    .and_then(|n| n.parse::<usize>().ok());
                params.push(numbered.map_or(position as usize - 1, |n| n.saturating_sub(1)));
            }
            let columns: Vec<String> = (0..ffi::sqlite3_column_count(stmt_ptr))
                .map(|i| {
                    let name = ffi::sqlite3_column_name(stmt_ptr, i);
                    if name.is_null() { String::new() } else { CStr::from_ptr(name).to_string_lossy().into_owned() }
                })
                .collect();
            (params, columns)
        };
        Ok(Prepared { stmt, params, columns: columns.into() })
    }

    /// The connection's last error.
    fn error(&self) -> sqlx::Error {
        error_of(self.db)
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        // SAFETY: the statement is finalized once, here, before its connection closes (the
        // connection's `Drop` clears its statements first).
        unsafe { ffi::sqlite3_finalize(self.stmt.as_ptr()) };
    }
}

impl Drop for DirectSqlite {
    fn drop(&mut self) {
        self.prepared.clear();
        // SAFETY: every statement was finalized above; the handle is closed once.
        unsafe { ffi::sqlite3_close(self.db.as_ptr()) };
    }
}

/// Bind `value` at `position` of `stmt`.
///
/// # Safety
/// `stmt` must be live, and text must outlive the statement's run (it is not copied).
unsafe fn bind(stmt: *mut ffi::sqlite3_stmt, position: c_int, value: &Value) -> c_int {
    let text = |s: &str| unsafe { ffi::sqlite3_bind_text64(stmt, position, s.as_ptr().cast(), s.len() as u64, ffi::SQLITE_STATIC(), ffi::SQLITE_UTF8 as u8) };
    match value {
        Value::Text(s) | Value::MaybeText(Some(s)) => text(s),
        Value::Int(n) | Value::MaybeInt(Some(n)) => unsafe { ffi::sqlite3_bind_int64(stmt, position, *n) },
        Value::MaybeText(None) | Value::MaybeInt(None) => unsafe { ffi::sqlite3_bind_null(stmt, position) },
    }
}

/// The current row of `stmt`, `columns` wide.
fn read_row(stmt: *mut ffi::sqlite3_stmt, columns: usize) -> Vec<Cell> {
    (0..columns as c_int)
        .map(|i| {
            // SAFETY: `stmt` has a current row with `columns` columns; text and blob pointers are
            // valid for the byte counts SQLite reports, until the next step.
            unsafe {
                match ffi::sqlite3_column_type(stmt, i) {
                    ffi::SQLITE_INTEGER => Cell::Int(ffi::sqlite3_column_int64(stmt, i)),
                    ffi::SQLITE_FLOAT => Cell::Real(ffi::sqlite3_column_double(stmt, i)),
                    ffi::SQLITE_NULL => Cell::Null,
                    ffi::SQLITE_BLOB => {
                        let data = ffi::sqlite3_column_blob(stmt, i);
                        let len = ffi::sqlite3_column_bytes(stmt, i) as usize;
                        Cell::Blob(if data.is_null() { Vec::new() } else { std::slice::from_raw_parts(data.cast::<u8>(), len).to_vec() })
                    }
                    _ => {
                        let data = ffi::sqlite3_column_text(stmt, i);
                        let len = ffi::sqlite3_column_bytes(stmt, i) as usize;
                        let bytes = if data.is_null() { &[][..] } else { std::slice::from_raw_parts(data, len) };
                        Cell::Text(String::from_utf8_lossy(bytes).into_owned())
                    }
                }
            }
        })
        .collect()
}

/// The last error of the connection `db`, as sqlx reports database errors.
fn error_of(db: NonNull<ffi::sqlite3>) -> sqlx::Error {
    // SAFETY: the handle is open; the message is a NUL-terminated string owned by it.
    let (code, message) = unsafe {
        let code = ffi::sqlite3_extended_errcode(db.as_ptr());
        let message = CStr::from_ptr(ffi::sqlite3_errmsg(db.as_ptr())).to_string_lossy().into_owned();
        (code, message)
    };
    sqlx::Error::Database(Box::new(DirectError { code, message }))
}

/// An error SQLite reported.
#[derive(Debug)]
struct DirectError {
    code: c_int,
    message: String,
}

impl std::fmt::Display for DirectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for DirectError {}

impl sqlx::error::DatabaseError for DirectError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(self.code.to_string().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        use sqlx::error::ErrorKind;
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => ErrorKind::UniqueViolation,
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, DirectSqlite) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        std::fs::File::create(&path).unwrap();
        let conn = DirectSqlite::open(&path, &["PRAGMA foreign_keys = ON"]).unwrap();
        (dir, conn)
    }

    #[test]
    fn statements_bind_by_number_and_rows_come_back_typed() {
        let (_dir, mut db) = open();
        db.execute("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, note TEXT)", &[]).unwrap();
        // `$2` before `$1`, and `$1` twice: values go by number, not by position.
        let changed = db.execute("INSERT INTO t (n, id, note) VALUES ($2, $1, $1 || '!')", &["a".into(), 7i64.into()]).unwrap();
        assert_eq!(changed, 1);
        db.execute("INSERT INTO t (id, n, note) VALUES ($1, $2, $3)", &["b".into(), Value::MaybeInt(None), Value::MaybeText(None)]).unwrap();
        let rows = db.query("SELECT id, n, note FROM t ORDER BY id", &[]).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(matches!(rows[0].cell("n"), Some(Cell::Int(7))));
        assert!(matches!(rows[0].cell("note"), Some(Cell::Text(s)) if s == "a!"));
        assert!(matches!(rows[1].cell("n"), Some(Cell::Null)));
        assert!(rows[0].cell("missing").is_none());
    }

    #[test]
    fn errors_are_reported_with_their_kind_and_leave_the_statement_usable() {
        let (_dir, mut db) = open();
        db.execute("CREATE TABLE t (id TEXT PRIMARY KEY)", &[]).unwrap();
        db.execute("INSERT INTO t (id) VALUES ($1)", &["a".into()]).unwrap();
        let err = db.execute("INSERT INTO t (id) VALUES ($1)", &["a".into()]).unwrap_err();
        let sqlx::Error::Database(e) = err else { panic!("a database error") };
        assert_eq!(e.kind(), sqlx::error::ErrorKind::UniqueViolation);
        assert!(e.message().contains("UNIQUE"), "{}", e.message());
        assert_eq!(db.execute("INSERT INTO t (id) VALUES ($1)", &["b".into()]).unwrap(), 1);
        assert!(db.execute("INSERT INTO t (id) VALUES ($1)", &[]).is_err(), "a missing value is refused");
        assert!(db.execute("SELECT 1; SELECT 2", &[]).is_err(), "one statement at a time");
        assert!(db.execute("SELEC 1", &[]).is_err());
    }

    #[test]
    fn transactions_are_seen() {
        let (_dir, mut db) = open();
        assert!(!db.in_transaction());
        db.execute("BEGIN IMMEDIATE", &[]).unwrap();
        assert!(db.in_transaction());
        db.execute("ROLLBACK", &[]).unwrap();
        assert!(!db.in_transaction());
    }
}
