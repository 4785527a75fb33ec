//! The connection a write transaction runs on, and the rows it reads.
//!
//! The ingest writer's transactions, and the store functions they call, run either through
//! sqlx (PostgreSQL, and any connection of the pool) or, on SQLite, on the writer's own
//! [`DirectSqlite`] connection. [`Conn`] runs a statement on either, and [`Row`] reads a column
//! of either's rows by name.

use super::bulk::Value;
use super::direct::{DirectRow, DirectSqlite};
use sqlx::{Any, AnyConnection};

/// Where a write transaction's statements go.
pub enum Conn<'c> {
    /// A sqlx connection: PostgreSQL, or SQLite through the pool.
    Pooled(&'c mut AnyConnection),
    /// The ingest writer's own SQLite connection, driven on its thread.
    Direct(&'c mut DirectSqlite),
}

impl Conn<'_> {
    /// Whether the database is SQLite.
    pub fn is_sqlite(&self) -> bool {
        match self {
            Conn::Pooled(conn) => conn.backend_name() == "SQLite",
            Conn::Direct(_) => true,
        }
    }

    /// The database's name as sqlx gives it (`SQLite`, `PostgreSQL`).
    pub fn backend_name(&self) -> &'static str {
        if self.is_sqlite() { "SQLite" } else { "PostgreSQL" }
    }

    /// Run `sql` (parameters `$1`, `$2`, …) with `values`; returns how many rows it changed.
    pub async fn execute(&mut self, sql: &str, values: &[Value]) -> sqlx::Result<u64> {
        match self {
            Conn::Pooled(conn) => Ok(bound(sql, values).execute(&mut **conn).await?.rows_affected()),
            Conn::Direct(conn) => conn.execute(sql, values),
        }
    }

    /// Run `sql` with `values` and return every row.
    pub async fn fetch_all(&mut self, sql: &str, values: &[Value]) -> sqlx::Result<Vec<Row>> {
        match self {
            Conn::Pooled(conn) => Ok(bound(sql, values).fetch_all(&mut **conn).await?.into_iter().map(Row::Pooled).collect()),
            Conn::Direct(conn) => Ok(conn.query(sql, values)?.into_iter().map(Row::Direct).collect()),
        }
    }

    /// Run `sql` with `values` and return its first row, if any.
    pub async fn fetch_optional(&mut self, sql: &str, values: &[Value]) -> sqlx::Result<Option<Row>> {
        match self {
            Conn::Pooled(conn) => Ok(bound(sql, values).fetch_optional(&mut **conn).await?.map(Row::Pooled)),
            Conn::Direct(conn) => Ok(conn.query(sql, values)?.into_iter().next().map(Row::Direct)),
        }
    }

    /// Run `sql` with `values` and return its first row, which must exist.
    pub async fn fetch_one(&mut self, sql: &str, values: &[Value]) -> sqlx::Result<Row> {
        self.fetch_optional(sql, values).await?.ok_or(sqlx::Error::RowNotFound)
    }
}

/// `sql` as a sqlx query with `values` bound.
pub fn bound<'q>(sql: &'q str, values: &'q [Value]) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    values.iter().fold(sqlx::query(sql), |query, value| match value {
        Value::Text(s) => query.bind(s.as_str()),
        Value::MaybeText(s) => query.bind(s.as_deref()),
        Value::Int(n) => query.bind(*n),
        Value::MaybeInt(n) => query.bind(*n),
    })
}

/// One value of a [`DirectRow`].
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// A row read through a [`Conn`].
pub enum Row {
    /// Read through sqlx.
    Pooled(sqlx::any::AnyRow),
    /// Read by the writer's own SQLite connection.
    Direct(DirectRow),
}

impl Row {
    /// The value of column `name`. Like sqlx's `Row::get`, it panics when there is no such
    /// column or its value is not a `T`: the statement and the code reading it disagree.
    pub fn get<T: FromCell>(&self, name: &str) -> T {
        match self {
            Row::Pooled(row) => sqlx::Row::get(row, name),
            Row::Direct(row) => {
                let cell = row.cell(name).unwrap_or_else(|| panic!("the row has no column `{name}`"));
                T::from_cell(cell).unwrap_or_else(|| panic!("column `{name}` holds {cell:?}, not a {}", std::any::type_name::<T>()))
            }
        }
    }
}

/// A type a column can be read as, from either kind of [`Row`].
pub trait FromCell: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + Sized {
    /// The value of `cell`, if it is one of these.
    fn from_cell(cell: &Cell) -> Option<Self>;
}

impl FromCell for String {
    fn from_cell(cell: &Cell) -> Option<String> {
        match cell {
            Cell::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromCell for i64 {
    fn from_cell(cell: &Cell) -> Option<i64> {
        match cell {
            Cell::Int(n) => Some(*n),
            _ => None,
        }
    }
}

impl FromCell for bool {
    fn from_cell(cell: &Cell) -> Option<bool> {
        match cell {
            Cell::Int(n) => Some(*n != 0),
            _ => None,
        }
    }
}

impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(cell: &Cell) -> Option<Option<T>> {
        match cell {
            Cell::Null => Some(None),
            other => T::from_cell(other).map(Some),
        }
    }
}
